// The OpenAPI words for the stream routes (SPEC section 7); docs/streams.md says the same at length.

const auth =
  'Auth: `Authorization: Bearer <key>` with `read`, a session cookie, or `?ticket=` from POST /v1/stream-tickets. ' +
  'Without valid credentials the answer is 401 (an integration or heartbeat key is not an API key).';

const replay =
  'Replay: `Last-Event-ID` (or `?since=<id>`) replays every kept event after that id, in order, then goes live, so a client ' +
  'that reconnects sees every event exactly once. When the id is older than what is kept (EVENT_RETENTION_HOURS), or unknown, ' +
  'the stream starts with an event of type `reset` whose id is where it goes on from: reload, then keep following.';

const filters =
  'Filters: `types` (comma list) and `incident_id` (that incident\'s incident.* events and the notification.updated events of ' +
  'its notifications; of a delivery batch event, only its items of that incident).';

const backlog = 'A client whose unsent backlog passes 1 MiB is disconnected and resumes with its last id.';

export const streamDocs = {
  sse: {
    summary: 'Follow incidents and notifications live (Server-Sent Events)',
    description: [
      'Every change a client can see, as it commits, from whichever process made it.',
      'Each event is `id: <id>`, `event: <type>`, `data: {"id","type","at","data"}`; a comment line comes at least every 15 s.',
      'Types: incident.created, incident.updated and incident.deleted (`data` is the incident as GET /v1/incidents/:id returns it; `{"id"}` when deleted), ' +
        'notification.updated (`data`: id, status, channel, incident_id, retry_count, updated_at, or `{"items":[...]}` for a delivery batch).',
      filters,
      replay,
      auth,
      backlog,
      'Example: `curl -N -H "Authorization: Bearer $KEY" "$TOCSIN/v1/stream?types=incident.created,incident.updated"`.',
    ].join('\n\n'),
  },
  sseFormat: 'text/event-stream: `id: 42\\nevent: incident.updated\\ndata: {"id":42,"type":"incident.updated","at":"...","data":{...}}\\n\\n`, and `: ping` comments',
  ws: {
    summary: 'Follow incidents and notifications live (WebSocket)',
    description: [
      'Open with a WebSocket client (Upgrade: websocket); a plain GET is answered 400. The same events as GET /v1/stream, one JSON ' +
        'text message each: `{"id","type","at","data"}`. The server pings every 30 s; a client that does not answer is disconnected.',
      'The query takes the same `types`, `incident_id`, `since` and `ticket` as GET /v1/stream. The client may send ' +
        '`{"subscribe":{"types":[...],"incident_id":"...","since":42}}`: it replaces the filters (`since` replays from there, as ' +
        'Last-Event-ID does) and is acknowledged with `{"type":"subscribed","data":{"types","incident_id","since"}}` before any event under the new filters.',
      'A message the server does not understand is answered with an error message in the usual shape ' +
        '`{"code":"VALIDATION_ERROR","message","request_id","details"}`; the connection stays open.',
      filters,
      replay,
      auth + ' A WebSocket signed in by cookie must carry an Origin equal to PUBLIC_URL\'s, else 403.',
      backlog,
    ].join('\n\n'),
  },
};

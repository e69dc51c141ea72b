import Type from 'typebox';
import { Value } from 'typebox/value';
import type { RawData, WebSocket } from 'ws';
import { DomainError } from '../../domain/errors.ts';
import { parseStreamFilter, StreamFilterError } from '../../domain/stream-filter.ts';
import { toErrorResponse } from './error-mapping.ts';
import { Nullable, Uuid } from './schemas.ts';
import type { StreamClient, StreamHub } from './stream-hub.ts';
import { sendWsMessage } from './stream-sinks.ts';

/** A client message larger than this closes the connection (ws answers 1009 "message too big"). */
export const WS_MAX_MESSAGE_BYTES = 64 * 1024;

/** SPEC section 7: what a WebSocket client may send. */
export const SubscribeMessage = Type.Object(
  {
    subscribe: Type.Object(
      {
        types: Type.Optional(Type.Array(Type.String({ maxLength: 100 }), { maxItems: 50 })),
        incident_id: Type.Optional(Nullable(Uuid)),
        since: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), Type.String({ pattern: '^[0-9]{1,15}$' })])),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

interface Context {
  hub: StreamHub;
  client: StreamClient;
  socket: WebSocket;
  /** The upgrade request's id, quoted in error messages (SPEC section 2). */
  requestId: string;
}

const unionMessages: Record<string, string> = {
  'message.subscribe.incident_id': 'must be a UUID or null',
  'message.subscribe.since': 'must be an event id (a whole number from 0)',
};

/** One line per bad field, named as the HTTP errors name them (SPEC section 2: details name each bad field). */
function describeErrors(message: unknown): { field: string; message: string }[] {
  const byField = new Map<string, string>();
  for (const error of Value.Errors(SubscribeMessage, message)) {
    const field = ['message', ...error.instancePath.split('/').filter(Boolean)].join('.');
    if (error.keyword === 'additionalProperties') continue; // each extra field has its own 'boolean' error
    if (error.keyword === 'boolean') byField.set(field, 'is not a known field');
    else if (error.keyword === 'required') {
      for (const name of (error.params as { requiredProperties?: string[] }).requiredProperties ?? []) byField.set(`${field}.${name}`, 'is required');
    } else if (error.keyword === 'anyOf') byField.set(field, unionMessages[field] ?? 'has the wrong type');
    else if (!byField.has(field)) byField.set(field, error.message);
  }
  return [...byField].map(([field, text]) => ({ field, message: text }));
}

const invalid = (message: string, details: { field: string; message: string }[]) => new DomainError('VALIDATION_ERROR', message, details);

/**
 * `{"subscribe":{"types":[...],"incident_id":...,"since":...}}` replaces the connection's filters
 * and, with `since`, replays from there as Last-Event-ID does; the server acknowledges with
 * `{"type":"subscribed","data":{...}}` before any event under the new filters. Anything else is
 * answered with an error in the contract's shape `{"code","message","request_id","details"}`:
 * a typo does not end the connection.
 */
export function handleWsMessage(context: Context, data: RawData, isBinary: boolean): void {
  const { hub, client, socket, requestId } = context;
  try {
    if (isBinary) throw invalid('send JSON text messages', [{ field: 'message', message: 'must be a text message' }]);
    let message: unknown;
    try {
      message = JSON.parse(String(data));
    } catch {
      throw invalid('the message is not valid JSON', [{ field: 'message', message: 'must be JSON' }]);
    }
    if (!Value.Check(SubscribeMessage, message)) {
      const details = describeErrors(message);
      throw invalid(`invalid message: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}`, details);
    }
    const { types, incident_id, since } = message.subscribe;
    let filter;
    try {
      filter = parseStreamFilter({ types, incident_id }, 'message.subscribe.');
    } catch (error) {
      if (!(error instanceof StreamFilterError)) throw error;
      throw invalid(`invalid message: ${error.message}`, [{ field: error.field, message: error.message.slice(error.field.length + 1) }]);
    }
    const from = since === undefined ? undefined : Number(since);
    sendWsMessage(socket, {
      type: 'subscribed',
      data: { types: filter.types ? [...filter.types] : null, incident_id: filter.incidentId ?? null, since: from ?? null },
    });
    hub.resubscribe(client, filter, from);
  } catch (error) {
    sendWsMessage(socket, toErrorResponse(error, requestId).body);
  }
}

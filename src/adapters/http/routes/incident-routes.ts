import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { IncidentUseCases } from '../../../app/incident-use-cases.ts';
import { actorOf } from '../../../domain/api-key.ts';
import { notFound } from '../../../domain/errors.ts';
import { incidentStatuses, incidentView, notificationSummaries, severities, type TimelineEvent } from '../../../domain/incident.ts';
import type { Tx } from '../../../ports/transact.ts';
import { getIncident, listIncidents, listTimeline } from '../../postgres/incident-store.ts';
import type { Authenticator } from '../auth.ts';
import { etagOf, expectedVersion, isNotModified } from '../etag.ts';
import type { Idempotency } from '../idempotency.ts';
import { errors, IdempotencyHeaders, IdParams, instant, Nullable, Page, PageOnlyQuery, PageQuery, Timestamp, toIso, Uuid } from '../schemas.ts';

const Severity = Type.Enum([...severities], { description: 'P1 is the most urgent' });
const Status = Type.Enum([...incidentStatuses]);
const Title = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });
const Description = Nullable(Type.String({ maxLength: 20_000 }));

const IncidentBody = Type.Object({
  id: Uuid,
  title: Type.String(),
  description: Nullable(Type.String()),
  severity: Severity,
  status: Status,
  team_id: Nullable(Uuid),
  assignee_id: Nullable(Uuid),
  source: Type.String(),
  dedup_key: Nullable(Type.String()),
  created_by: Type.String(),
  notification_status: Type.Enum([...notificationSummaries]),
  created_at: Timestamp,
  updated_at: Timestamp,
  acknowledged_at: Nullable(Timestamp),
  resolved_at: Nullable(Timestamp),
  integration_id: Nullable({ ...Uuid, description: 'the integration that opened it (SPEC section 6)' }),
  details: Nullable(Type.Record(Type.String(), Type.Unknown(), {
    description: "what the monitoring tool last said: the Events v2 payload, or Alertmanager's labels, annotations and generatorURL",
  })),
});

const CreateIncident = Type.Object(
  {
    title: Title,
    description: Type.Optional(Description),
    severity: Type.Optional({ ...Severity, default: 'P3' }),
    team_id: Type.Optional(Nullable(Uuid)),
    assignee_id: Type.Optional(Nullable(Uuid)),
    dedup_key: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 255 }))),
  },
  { additionalProperties: false },
);

const PatchIncident = Type.Object(
  {
    title: Type.Optional(Title),
    description: Type.Optional(Description),
    severity: Type.Optional(Severity),
    team_id: Type.Optional(Nullable(Uuid)),
    assignee_id: Type.Optional(Nullable(Uuid)),
    status: Type.Optional(Status),
  },
  { additionalProperties: false },
);

const StatusChange = Type.Object(
  { status: Status, note: Type.Optional(Type.String({ maxLength: 10_000 })) },
  { additionalProperties: false },
);

const ListQuery = Type.Object(
  {
    status: Type.Optional(Status),
    severity: Type.Optional(Severity),
    team_id: Type.Optional(Uuid),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'words to find in title and description' })),
    from: Type.Optional({ ...Timestamp, description: 'created at or after' }),
    to: Type.Optional({ ...Timestamp, description: 'created before' }),
    ...PageQuery,
  },
  { additionalProperties: false },
);

const EventBody = Type.Object({
  id: Uuid,
  type: Type.String(),
  actor: Type.String({ description: 'user:<id> for a person (SPEC section 10), api_key:<name> for a tool, tocsin for Tocsin itself' }),
  actor_name: Nullable(Type.String({ description: "the person's or the API key's name; null for Tocsin itself" })),
  data: Type.Record(Type.String(), Type.Unknown()),
  created_at: Timestamp,
});

const CommentBody = Type.Object({ body: Type.String({ minLength: 1, maxLength: 10_000, pattern: '\\S' }) }, { additionalProperties: false });

const IfMatchHeaders = Type.Object({ 'if-match': Type.Optional(Type.String({ description: 'an ETag from a previous GET; 412 if the incident changed since' })) });

/** The incident as GET returns it: the same view its change events carry (SPEC section 7). */
export const presentIncident = incidentView;

const presentEvent = (event: TimelineEvent) => ({
  id: event.id,
  type: event.type,
  actor: event.actor,
  actor_name: event.actor_name ?? null,
  data: event.data,
  created_at: event.created_at.toISOString(),
});

export interface IncidentRouteDeps {
  incidents: IncidentUseCases;
  /** For plain reads, outside any transaction. */
  reader: Tx;
  auth: Authenticator;
  idempotent: Idempotency;
}

export const incidentRoutes = (deps: IncidentRouteDeps): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['incidents'];
  const created = (incident: Parameters<typeof presentIncident>[0] & { version: number }) => ({
    body: presentIncident(incident),
    headers: { location: `/v1/incidents/${incident.id}`, etag: etagOf(incident.version) },
  });

  app.post('/v1/incidents', {
    onRequest: deps.auth.require('write'),
    schema: {
      tags,
      summary: 'Open an incident',
      headers: IdempotencyHeaders,
      body: CreateIncident,
      response: { 201: IncidentBody, ...errors(400, 401, 403, 409, 413, 415, 429) },
    },
  }, async (request, reply) => {
    const actor = actorOf(request.principal!);
    return deps.idempotent(
      request,
      reply,
      201,
      async (tx) => created(await deps.incidents.createWithin(tx, actor, request.body)),
      async () => created(await deps.incidents.create(actor, request.body)),
    );
  });

  app.get('/v1/incidents', {
    onRequest: deps.auth.require('read'),
    schema: {
      tags,
      summary: 'List incidents, newest first',
      querystring: ListQuery,
      response: { 200: Page(IncidentBody), ...errors(400, 401, 403) },
    },
  }, async (request) => {
    const { from, to, limit = 50, ...rest } = request.query;
    const result = await listIncidents(deps.reader, {
      ...rest,
      limit,
      ...(from ? { from: instant('from', from) } : {}),
      ...(to ? { to: instant('to', to) } : {}),
    });
    return { data: result.data.map(presentIncident), next_cursor: result.next_cursor };
  });

  app.get('/v1/incidents/:id', {
    onRequest: deps.auth.require('read'),
    schema: {
      tags,
      summary: 'Get an incident (with an ETag)',
      params: IdParams,
      response: { 200: IncidentBody, 304: Type.Null(), ...errors(400, 401, 403, 404) },
    },
  }, async (request, reply) => {
    const incident = await getIncident(deps.reader, request.params.id);
    if (!incident) throw notFound('INCIDENT', request.params.id);
    reply.header('etag', etagOf(incident.version));
    if (isNotModified(request, incident.version)) return reply.code(304).send(null);
    return presentIncident(incident);
  });

  app.patch('/v1/incidents/:id', {
    onRequest: deps.auth.require('write'),
    schema: {
      tags,
      summary: 'Change an incident (fields and/or status)',
      params: IdParams,
      headers: IfMatchHeaders,
      body: PatchIncident,
      response: { 200: IncidentBody, ...errors(400, 401, 403, 404, 412, 413, 415, 429) },
    },
  }, async (request, reply) => {
    const incident = await deps.incidents.update(actorOf(request.principal!), request.params.id, request.body, expectedVersion(request));
    reply.header('etag', etagOf(incident.version));
    return presentIncident(incident);
  });

  app.patch('/v1/incidents/:id/status', {
    onRequest: deps.auth.require('write'),
    schema: {
      tags,
      summary: 'Acknowledge or resolve an incident',
      description: 'open → acknowledged → resolved, or open → resolved. The same status again is a no-op.',
      params: IdParams,
      headers: IfMatchHeaders,
      body: StatusChange,
      response: { 200: IncidentBody, ...errors(400, 401, 403, 404, 412, 413, 415, 429) },
    },
  }, async (request, reply) => {
    const incident = await deps.incidents.update(actorOf(request.principal!), request.params.id, request.body, expectedVersion(request));
    reply.header('etag', etagOf(incident.version));
    return presentIncident(incident);
  });

  app.delete('/v1/incidents/:id', {
    onRequest: deps.auth.require('admin'),
    schema: {
      tags,
      summary: 'Delete an incident and its timeline (admin)',
      params: IdParams,
      response: { 204: Type.Null(), ...errors(400, 401, 403, 404, 429) },
    },
  }, async (request, reply) => {
    await deps.incidents.remove(request.params.id);
    return reply.code(204).send(null);
  });

  app.post('/v1/incidents/:id/comments', {
    onRequest: deps.auth.require('write'),
    schema: {
      tags,
      summary: 'Comment on an incident',
      params: IdParams,
      headers: IdempotencyHeaders,
      body: CommentBody,
      response: { 201: EventBody, ...errors(400, 401, 403, 404, 409, 413, 415, 429) },
    },
  }, async (request, reply) =>
    deps.idempotent(request, reply, 201, async (tx) => {
      const event = await deps.incidents.commentWithin(tx, actorOf(request.principal!), request.params.id, request.body.body);
      return { body: presentEvent(event) };
    }));

  app.get('/v1/incidents/:id/events', {
    onRequest: deps.auth.require('read'),
    schema: {
      tags,
      summary: 'The timeline of an incident, oldest first, a page at a time',
      params: IdParams,
      querystring: PageOnlyQuery,
      response: { 200: Page(EventBody), ...errors(400, 401, 403, 404) },
    },
  }, async (request) => {
    const { limit = 50, cursor } = request.query;
    const [incident, events] = await Promise.all([
      getIncident(deps.reader, request.params.id),
      listTimeline(deps.reader, request.params.id, { limit, cursor }),
    ]);
    if (!incident) throw notFound('INCIDENT', request.params.id);
    return { data: events.data.map(presentEvent), next_cursor: events.next_cursor };
  });
};

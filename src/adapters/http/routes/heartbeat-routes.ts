import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { HeartbeatUseCases } from '../../../app/heartbeat-use-cases.ts';
import { DomainError } from '../../../domain/errors.ts';
import { heartbeatStatuses, type Heartbeat } from '../../../domain/heartbeat.ts';
import type { Tx } from '../../../ports/transact.ts';
import { deleteHeartbeat, findHeartbeatByKey, listHeartbeats } from '../../postgres/heartbeat-store.ts';
import { generateIntakeKey } from '../../postgres/integration-store.ts';
import type { Authenticator } from '../auth.ts';
import { intakeRateLimit } from '../rate-limit.ts';
import { errors, IdParams, Nullable, Page, PageOnlyQuery, Timestamp, toIso, Uuid } from '../schemas.ts';

// SPEC section 6: heartbeats. Cron jobs ping them with curl, so the ping URL carries the secret
// and needs no header, and it answers GET as well as POST.

const HeartbeatBody = Type.Object({
  id: Uuid,
  name: Type.String(),
  interval_seconds: Type.Integer(),
  team_id: Nullable(Uuid),
  key_prefix: Type.String({ description: 'the first characters of the key, to tell keys apart' }),
  status: Type.Enum([...heartbeatStatuses], { description: 'up: pinged in time, or not yet due; down: missed, with an open incident' }),
  last_ping_at: Nullable(Timestamp),
  due_at: { ...Timestamp, description: 'the next ping is due by then' },
  incident_id: Nullable({ ...Uuid, description: 'the incident opened by the miss, while down' }),
  created_at: Timestamp,
});

const CreatedHeartbeatBody = Type.Object({
  ...HeartbeatBody.properties,
  key: Type.String({ description: 'the secret in the ping URL; shown only in this response' }),
  url: Type.String({ description: 'the path to ping: /v1/heartbeats/{key}/ping' }),
});

const CreateHeartbeat = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' }),
    interval_seconds: Type.Integer({ minimum: 1, maximum: 2_592_000, description: 'a ping is expected at least this often (1 s to 30 days)' }),
    team_id: Type.Optional(Nullable(Uuid)),
  },
  { additionalProperties: false },
);

const KeyParams = Type.Object({ key: Type.String({ minLength: 1, maxLength: 200, description: "the heartbeat's key" }) });

export const pingPath = (key: string): string => `/v1/heartbeats/${encodeURIComponent(key)}/ping`;

const present = (heartbeat: Heartbeat) => ({
  id: heartbeat.id,
  name: heartbeat.name,
  interval_seconds: heartbeat.interval_seconds,
  team_id: heartbeat.team_id,
  key_prefix: heartbeat.key_prefix,
  status: heartbeat.status,
  last_ping_at: toIso(heartbeat.last_ping_at),
  due_at: heartbeat.due_at.toISOString(),
  incident_id: heartbeat.incident_id,
  created_at: heartbeat.created_at.toISOString(),
});

export interface HeartbeatRouteDeps {
  heartbeats: HeartbeatUseCases;
  /** For plain reads, outside any transaction. */
  reader: Tx;
  auth: Authenticator;
  /** INTAKE_RATE_LIMIT_PER_MINUTE. */
  intakePerMinute: number;
}

export const heartbeatRoutes = (deps: HeartbeatRouteDeps): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['heartbeats'];

  app.post('/v1/heartbeats', {
    onRequest: deps.auth.require('admin'),
    schema: {
      tags,
      summary: 'Create a heartbeat (admin); the key is shown once',
      description: 'It is due one interval after creation: a heartbeat that is never pinged is missed too.',
      body: CreateHeartbeat,
      response: { 201: CreatedHeartbeatBody, ...errors(400, 401, 403, 413, 415, 429) },
    },
  }, async (request, reply) => {
    // Not under Idempotency-Key, like API keys and integrations: only the key's hash is stored.
    const { key, key_hash, key_prefix } = generateIntakeKey();
    const heartbeat = await deps.heartbeats.create({
      name: request.body.name,
      interval_seconds: request.body.interval_seconds,
      team_id: request.body.team_id ?? null,
      key_hash,
      key_prefix,
    });
    return reply.code(201).header('location', `/v1/heartbeats/${heartbeat.id}`).send({ ...present(heartbeat), key, url: pingPath(key) });
  });

  app.get('/v1/heartbeats', {
    onRequest: deps.auth.require('read'),
    schema: {
      tags,
      summary: 'List heartbeats with their status, oldest first (keys are not shown again)',
      querystring: PageOnlyQuery,
      response: { 200: Page(HeartbeatBody), ...errors(400, 401, 403) },
    },
  }, async (request) => {
    const { limit = 50, cursor } = request.query;
    const result = await listHeartbeats(deps.reader, { limit, cursor });
    return { data: result.data.map(present), next_cursor: result.next_cursor };
  });

  app.delete('/v1/heartbeats/:id', {
    onRequest: deps.auth.require('admin'),
    schema: {
      tags,
      summary: 'Delete a heartbeat (admin); an incident it opened stays as it is',
      params: IdParams,
      response: { 204: Type.Null(), ...errors(400, 401, 403, 404, 429) },
    },
  }, async (request, reply) => {
    if (!(await deleteHeartbeat(deps.reader, request.params.id))) {
      throw new DomainError('HEARTBEAT_NOT_FOUND', `heartbeat ${request.params.id} does not exist`);
    }
    return reply.code(204).send(null);
  });

  // The ping routes take any body of any type and ignore it: `curl -d "$(backup.sh 2>&1)"` is a
  // ping too. Their own scope keeps that leniency away from every other route.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => done(null, undefined));
    const ping = async (key: string) => {
      const heartbeat = await findHeartbeatByKey(deps.reader, key);
      if (!heartbeat) throw new DomainError('HEARTBEAT_NOT_FOUND', 'no heartbeat has this key');
      return present(await deps.heartbeats.ping(heartbeat.id));
    };
    const schema = {
      tags,
      summary: 'Ping a heartbeat (no auth header: the key in the URL is the secret)',
      description: 'The heartbeat is due again one interval from now; if it was down, its incident is resolved. Any body is ignored.',
      security: [],
      params: KeyParams,
      response: { 200: HeartbeatBody, ...errors(400, 404, 413, 429) },
    };
    const typed = scope.withTypeProvider<TypeBoxTypeProvider>();
    // Per heartbeat key (SPEC section 2), GET as well as POST: a ping writes.
    const config = intakeRateLimit(deps.intakePerMinute, (request) => (request.params as { key?: string }).key);
    typed.post('/v1/heartbeats/:key/ping', { schema, config }, async (request) => ping(request.params.key));
    typed.get('/v1/heartbeats/:key/ping', { schema, config }, async (request) => ping(request.params.key));
  });
};

import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';
import { sql } from 'kysely';
import type { Database } from '../../postgres/database.ts';
import type { Metrics } from '../../metrics.ts';
import { errors } from '../schemas.ts';

export interface Readiness {
  /** True once pg-boss has started (SPEC section 2: /ready needs the queue). */
  queueStarted(): boolean;
}

const Health = Type.Object({ status: Type.String() });
const Ready = Type.Object({ status: Type.String(), database: Type.Boolean(), queue: Type.Boolean() });

export const systemRoutes = (deps: { db: Database; readiness: Readiness; metrics: Metrics }): FastifyPluginAsync => async (app) => {
  const tags = ['system'];

  app.get('/health', { schema: { tags, summary: 'Liveness: the process answers', response: { 200: Health } } }, async () => ({ status: 'ok' }));

  app.get('/ready', {
    schema: { tags, summary: 'Readiness: PostgreSQL answers and the queue is started', response: { 200: Ready, 503: Ready } },
  }, async (_request, reply) => {
    const database = await sql`select 1`.execute(deps.db).then(() => true, () => false);
    const queue = deps.readiness.queueStarted();
    const ready = database && queue;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', database, queue });
  });

  app.get('/metrics', {
    schema: { tags, summary: 'Prometheus metrics (text exposition format)', produces: ['text/plain'], response: { 200: Type.String() } },
  }, async (_request, reply) => {
    const body = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(body);
  });

  app.get('/openapi.json', {
    schema: { tags, summary: 'This OpenAPI document', response: { 200: Type.Object({}, { additionalProperties: true }), ...errors() } },
  }, async () => app.swagger());
};

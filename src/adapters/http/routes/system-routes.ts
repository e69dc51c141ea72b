import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';
import type { Metrics } from '../../metrics.ts';
import { errors } from '../schemas.ts';

export interface Readiness {
  /** Whether PostgreSQL answers now. */
  databaseAnswers(): Promise<boolean>;
  /** True once pg-boss has started (SPEC section 2: /ready needs the queue). */
  queueStarted(): boolean;
}

const Health = Type.Object({ status: Type.String() });
const Ready = Type.Object({ status: Type.String(), database: Type.Boolean(), queue: Type.Boolean() });

export const systemRoutes = (deps: { readiness: Readiness; metrics: Metrics }): FastifyPluginAsync => async (app) => {
  const tags = ['system'];

  app.get('/health', { schema: { tags, summary: 'Liveness: the process answers', response: { 200: Health } } }, async () => ({ status: 'ok' }));

  app.get('/ready', {
    schema: { tags, summary: 'Readiness: PostgreSQL answers and the queue is started', response: { 200: Ready, 503: Ready } },
  }, async (_request, reply) => {
    const database = await deps.readiness.databaseAnswers();
    const queue = deps.readiness.queueStarted();
    const ready = database && queue;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', database, queue });
  });

  app.get('/metrics', {
    schema: {
      tags,
      summary: 'Prometheus metrics (text exposition format)',
      description: [
        'Tocsin metrics, all named tocsin_*:',
        '- tocsin_notifications_total{channel,status}: delivery attempts by outcome (sent, retry, failed, deferred), counted by the worker process that made them',
        '- tocsin_delivery_duration_seconds{channel}: histogram of the time a provider took to answer',
        '- tocsin_queue_depth{channel}: notifications scheduled, queued or sending (read from PostgreSQL)',
        '- tocsin_sweep_recovered_total{kind}: notifications (kind="notification") and escalation steps (kind="escalation_step") the sweep found without a live job and put back on the queue, since the database was created (read from PostgreSQL, so every process reports it)',
        '- tocsin_http_request_duration_seconds{method,route,status_code}: histogram of API request durations',
        '- tocsin_process_*: Node.js process metrics',
      ].join('\n'),
      produces: ['text/plain'],
      response: { 200: Type.String({ description: 'the Prometheus text exposition format' }) },
    },
  }, async (_request, reply) => {
    const body = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(body);
  });

  app.get('/openapi.json', {
    schema: { tags, summary: 'This OpenAPI document', response: { 200: Type.Object({}, { additionalProperties: true }), ...errors() } },
  }, async () => app.swagger());
};

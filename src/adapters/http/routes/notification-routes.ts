import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type, { type Static } from 'typebox';
import type { NotificationUseCases } from '../../../app/notification-use-cases.ts';
import { DomainError } from '../../../domain/errors.ts';
import { channels, notificationStatuses, priorities } from '../../../domain/notification.ts';
import { slugPattern } from '../../../domain/template.ts';
import type { Tx } from '../../../ports/transact.ts';
import {
  channelFigures,
  getBatchCounts,
  getNotification,
  listNotifications,
  type NotificationWithAttempts,
} from '../../postgres/notification-store.ts';
import type { Authenticator } from '../auth.ts';
import type { Idempotency } from '../idempotency.ts';
import { errors, IdempotencyHeaders, IdParams, instant, Nullable, Page, PageQuery, Timestamp, toIso, Uuid } from '../schemas.ts';

const Channel = Type.Enum([...channels]);
const Priority = Type.Enum([...priorities], { description: 'high jobs are fetched before normal, normal before low' });
const Status = Type.Enum([...notificationStatuses]);

// SPEC section 5: a notification may name a template instead of giving content.
const TemplateRef = Type.Object(
  {
    slug: Type.String({ pattern: slugPattern, description: 'a template slug, such as incident.page' }),
    locale: Type.Optional(Type.String({ minLength: 1, maxLength: 35, description: "falls back pt-BR → pt → en; default: the user's locale, else en" })),
    variables: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'the values the template uses; a missing one is 400 TEMPLATE_VARIABLE_MISSING' })),
  },
  { additionalProperties: false },
);

const NotificationInput = Type.Object(
  {
    channel: Channel,
    recipient: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'email address, E.164 phone number, device token, or webhook/Slack URL; give this or user_id' })),
    user_id: Type.Optional({ ...Uuid, description: "send to this user's contact method for the channel instead of a recipient" }),
    subject: Type.Optional(Nullable(Type.String({ maxLength: 998 }))),
    content: Type.Optional(Type.String({ minLength: 1, maxLength: 100_000, description: 'give this or template' })),
    template: Type.Optional(TemplateRef),
    priority: Type.Optional(Priority),
    scheduled_at: Type.Optional(Nullable({ ...Timestamp, description: 'send at this time, not before' })),
    max_retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 20, description: 'default by priority: high 5, normal 3, low 2' })),
    incident_id: Type.Optional(Nullable(Uuid)),
    metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'free-form; sent along to webhooks' })),
  },
  { additionalProperties: false },
);
type NotificationInputBody = Static<typeof NotificationInput>;

const AttemptBody = Type.Object({
  attempt: Type.Integer({ description: 'the number the attempt took when a worker claimed the notification; a webhook body carries it as "attempt". A missing number is a claim whose worker stopped before recording' }),
  at: Timestamp,
  outcome: Type.Enum(['sent', 'retry', 'failed']),
  status_code: Type.Optional(Type.Integer()),
  error: Type.Optional(Type.String({ description: 'such as "HTTP 500: <at most 1,024 bytes of the answer, NUL and invalid UTF-8 replaced by U+FFFD>"' })),
  duration_ms: Type.Integer(),
});

export const NotificationBody = Type.Object({
  id: Uuid,
  channel: Channel,
  recipient: Type.String(),
  user_id: Nullable(Uuid),
  subject: Nullable(Type.String()),
  content: Type.String(),
  content_type: Type.Enum(['text', 'html'], { description: 'html when rendered from an email template' }),
  priority: Priority,
  status: Status,
  scheduled_at: Nullable(Timestamp),
  max_retries: Type.Integer(),
  retry_count: Type.Integer(),
  batch_id: Nullable(Uuid),
  incident_id: Nullable(Uuid),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  attempts: Type.Array(AttemptBody),
  last_error: Nullable(Type.String()),
  sent_at: Nullable(Timestamp),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const ListQuery = Type.Object(
  {
    status: Type.Optional(Status),
    channel: Type.Optional(Channel),
    priority: Type.Optional(Priority),
    batch_id: Type.Optional(Uuid),
    incident_id: Type.Optional(Uuid),
    from: Type.Optional({ ...Timestamp, description: 'created at or after' }),
    to: Type.Optional({ ...Timestamp, description: 'created before' }),
    ...PageQuery,
  },
  { additionalProperties: false },
);

const BatchInput = Type.Object(
  { notifications: Type.Array(NotificationInput, { minItems: 1, maxItems: 1000 }) },
  { additionalProperties: false },
);

const BatchCreated = Type.Object({ batch_id: Uuid, count: Type.Integer(), ids: Type.Array(Uuid) });
const BatchBody = Type.Object({ id: Uuid, total: Type.Integer(), counts: Type.Record(Type.String(), Type.Integer()) });

const MetricsBody = Type.Object({
  channels: Type.Array(
    Type.Object({
      channel: Channel,
      sent: Type.Integer(),
      failed: Type.Integer(),
      queue_depth: Type.Integer({ description: 'scheduled, queued or sending now' }),
      success_rate: Nullable(Type.Number()),
      avg_latency_ms: Nullable(Type.Number()),
    }),
  ),
  window: Type.String({ description: 'the period the figures cover' }),
});

export function presentNotification(n: NotificationWithAttempts) {
  return {
    id: n.id,
    channel: n.channel,
    recipient: n.recipient,
    user_id: n.user_id,
    subject: n.subject,
    content: n.content,
    content_type: n.content_type,
    priority: n.priority,
    status: n.status,
    scheduled_at: toIso(n.scheduled_at),
    max_retries: n.max_retries,
    retry_count: n.retry_count,
    batch_id: n.batch_id,
    incident_id: n.incident_id,
    metadata: n.metadata,
    attempts: n.attempts.map((a) => ({
      attempt: a.attempt,
      at: a.at.toISOString(),
      outcome: a.outcome,
      ...(a.status_code === null ? {} : { status_code: a.status_code }),
      ...(a.error === null ? {} : { error: a.error }),
      duration_ms: a.duration_ms,
    })),
    last_error: n.last_error,
    sent_at: toIso(n.sent_at),
    created_at: n.created_at.toISOString(),
    updated_at: n.updated_at.toISOString(),
  };
}

export interface NotificationRouteDeps {
  notifications: NotificationUseCases;
  /** For plain reads, outside any transaction. */
  reader: Tx;
  auth: Authenticator;
  idempotent: Idempotency;
}

export const notificationRoutes = (deps: NotificationRouteDeps): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['notifications'];
  const fetchPresented = async (id: string) => {
    const found = await getNotification(deps.reader, id);
    if (!found) throw new DomainError('NOTIFICATION_NOT_FOUND', `notification ${id} does not exist`);
    return presentNotification(found);
  };

  app.post('/v1/notifications', {
    onRequest: deps.auth.require('write'),
    schema: {
      tags,
      summary: 'Send a notification (now, or at scheduled_at)',
      headers: IdempotencyHeaders,
      body: NotificationInput,
      response: { 201: NotificationBody, ...errors(400, 401, 403, 409, 413, 415, 429) },
    },
  }, async (request, reply) => {
    return deps.idempotent(request, reply, 201, async (tx) => {
      const created = await deps.notifications.createWithin(tx, request.body);
      return { body: presentNotification({ ...created, attempts: [] }), headers: { location: `/v1/notifications/${created.id}` } };
    });
  });

  app.post('/v1/notifications/batch', {
    onRequest: deps.auth.require('write'),
    schema: {
      tags,
      summary: 'Send 1 to 1000 notifications, all or nothing',
      headers: IdempotencyHeaders,
      body: BatchInput,
      response: { 201: BatchCreated, ...errors(400, 401, 403, 409, 413, 415, 429) },
    },
  }, async (request, reply) => {
    return deps.idempotent(request, reply, 201, async (tx) => {
      const batch = await deps.notifications.createBatchWithin(tx, request.body.notifications);
      return { body: batch, headers: { location: `/v1/batches/${batch.batch_id}` } };
    });
  });

  app.get('/v1/notifications', {
    onRequest: deps.auth.require('read'),
    schema: { tags, summary: 'List notifications, newest first', querystring: ListQuery, response: { 200: Page(NotificationBody), ...errors(400, 401, 403) } },
  }, async (request) => {
    const { from, to, limit = 50, ...rest } = request.query;
    const result = await listNotifications(deps.reader, {
      ...rest,
      limit,
      ...(from ? { from: instant('from', from) } : {}),
      ...(to ? { to: instant('to', to) } : {}),
    });
    return { data: result.data.map(presentNotification), next_cursor: result.next_cursor };
  });

  app.get('/v1/notifications/:id', {
    onRequest: deps.auth.require('read'),
    schema: { tags, summary: 'Get a notification with its attempts', params: IdParams, response: { 200: NotificationBody, ...errors(400, 401, 403, 404) } },
  }, async (request) => fetchPresented(request.params.id));

  app.delete('/v1/notifications/:id', {
    onRequest: deps.auth.require('write'),
    schema: {
      tags,
      summary: 'Cancel a scheduled or queued notification',
      params: IdParams,
      response: { 204: Type.Null(), ...errors(400, 401, 403, 404, 409, 429) },
    },
  }, async (request, reply) => {
    await deps.notifications.cancel(request.params.id);
    return reply.code(204).send(null);
  });

  app.post('/v1/notifications/:id/retry', {
    onRequest: deps.auth.require('write'),
    schema: {
      tags,
      summary: 'Send a failed notification again (redrive from the dead letter queue)',
      params: IdParams,
      response: { 202: NotificationBody, ...errors(400, 401, 403, 404, 409, 429) },
    },
  }, async (request, reply) => {
    return reply.code(202).send(presentNotification(await deps.notifications.retry(request.params.id)));
  });

  app.get('/v1/batches/:id', {
    onRequest: deps.auth.require('read'),
    schema: { tags, summary: 'Progress of a batch: how many notifications are in each status', params: IdParams, response: { 200: BatchBody, ...errors(400, 401, 403, 404) } },
  }, async (request) => {
    const counts = await getBatchCounts(deps.reader, request.params.id);
    if (!counts) throw new DomainError('BATCH_NOT_FOUND', `batch ${request.params.id} does not exist`);
    return { id: request.params.id, total: Object.values(counts).reduce((a, b) => a + b, 0), counts };
  });

  app.get('/v1/metrics', {
    onRequest: deps.auth.require('read'),
    schema: { tags, summary: 'Delivery figures per channel and queue depths', response: { 200: MetricsBody, ...errors(401, 403) } },
  }, async () => {
    const figures = await channelFigures(deps.reader);
    const byChannel = new Map(figures.map((f) => [f.channel, f]));
    return {
      window: 'notifications created in the last 24 hours, and every one still pending',
      channels: channels.map((channel) => {
        const f = byChannel.get(channel) ?? { sent: 0, failed: 0, pending: 0, avg_latency_ms: null };
        const done = f.sent + f.failed;
        return { channel, sent: f.sent, failed: f.failed, queue_depth: f.pending, success_rate: done === 0 ? null : f.sent / done, avg_latency_ms: f.avg_latency_ms };
      }),
    };
  });
};

import { randomUUID } from 'node:crypto';
import { DomainError } from '../domain/errors.ts';
import {
  defaultMaxRetries,
  initialStatus,
  isCancellable,
  isRetryable,
  type Channel,
  type Notification,
  type Priority,
} from '../domain/notification.ts';
import type { Clock } from '../ports/clock.ts';
import type { NewNotificationRow, Stores, Transact } from '../ports/unit-of-work.ts';

export interface NotificationContext {
  transact: Transact;
  clock: Clock;
  actor: string;
}

export interface NotificationInput {
  channel: Channel;
  recipient: string;
  subject?: string | null;
  content: string;
  priority?: Priority;
  scheduled_at?: string | null;
  max_retries?: number;
  incident_id?: string | null;
  metadata?: Record<string, unknown>;
}

function toRow(input: NotificationInput, now: Date, batchId: string | null): NewNotificationRow {
  const priority = input.priority ?? 'normal';
  const scheduledAt = input.scheduled_at ? new Date(input.scheduled_at) : null;
  return {
    id: randomUUID(),
    channel: input.channel,
    recipient: input.recipient,
    subject: input.subject ?? null,
    content: input.content,
    priority,
    status: initialStatus(scheduledAt, now),
    scheduled_at: scheduledAt,
    max_retries: input.max_retries ?? defaultMaxRetries[priority],
    batch_id: batchId,
    incident_id: input.incident_id ?? null,
    metadata: input.metadata ?? {},
    job_id: randomUUID(),
  };
}

/**
 * Writes notifications and their jobs in one transaction (SPEC section 4): both commit or
 * neither does, so an accepted notification always has a job and a job always has its row.
 * A batch is one multi-row insert and one bulk job insert, whatever its size.
 */
export async function enqueueNotifications(stores: Stores, rows: NewNotificationRow[]): Promise<Notification[]> {
  const created = await stores.notifications.insertMany(rows);
  await stores.jobs.enqueue(
    rows.map((row) => ({
      id: row.job_id,
      channel: row.channel,
      notification_id: row.id,
      priority: row.priority,
      start_after: row.status === 'scheduled' ? row.scheduled_at : null,
    })),
  );
  const linked = rows.filter((row) => row.incident_id !== null).map((row) => row.incident_id!);
  if (linked.length > 0) await stores.notifications.refreshIncidentSummaries([...new Set(linked)]);
  return created;
}

export async function createNotification(ctx: NotificationContext, input: NotificationInput): Promise<Notification> {
  return ctx.transact(async (stores) => {
    const [created] = await enqueueNotifications(stores, [toRow(input, ctx.clock.now(), null)]);
    return created!;
  });
}

export async function createBatch(ctx: NotificationContext, inputs: NotificationInput[]) {
  const batchId = randomUUID();
  const now = ctx.clock.now();
  return ctx.transact(async (stores) => {
    const created = await enqueueNotifications(stores, inputs.map((input) => toRow(input, now, batchId)));
    return { batch_id: batchId, count: created.length, ids: created.map((n) => n.id) };
  });
}

/**
 * DELETE /v1/notifications/:id. The row lock decides races with a worker: whoever changes the
 * status first wins, and a worker only sends what it moved from queued to sending itself.
 */
export async function cancelNotification(ctx: NotificationContext, id: string): Promise<Notification> {
  return ctx.transact(async (stores) => {
    const current = await stores.notifications.lock(id);
    if (!current) throw new DomainError('NOTIFICATION_NOT_FOUND', `notification ${id} does not exist`);
    if (!isCancellable(current.status)) {
      throw new DomainError('NOT_CANCELLABLE', `notification is ${current.status}; only scheduled or queued ones can be cancelled`, {
        status: current.status,
      });
    }
    if (current.job_id) await stores.jobs.cancel(current.channel, current.job_id);
    const cancelled = await stores.notifications.update(id, { status: 'cancelled', job_id: null });
    if (current.incident_id) await stores.notifications.refreshIncidentSummaries([current.incident_id]);
    return cancelled;
  });
}

/** POST /v1/notifications/:id/retry: a failed notification goes back to the queue with fresh retries. */
export async function retryNotification(ctx: NotificationContext, id: string): Promise<Notification> {
  return ctx.transact(async (stores) => {
    const current = await stores.notifications.lock(id);
    if (!current) throw new DomainError('NOTIFICATION_NOT_FOUND', `notification ${id} does not exist`);
    if (!isRetryable(current.status)) {
      throw new DomainError('NOT_RETRYABLE', `notification is ${current.status}; only failed ones can be retried`, {
        status: current.status,
      });
    }
    const jobId = randomUUID();
    await stores.jobs.removeDeadLetter(current.channel, id);
    await stores.jobs.enqueue([{ id: jobId, channel: current.channel, notification_id: id, priority: current.priority, start_after: null }]);
    const requeued = await stores.notifications.update(id, { status: 'queued', job_id: jobId, retry_count: 0, last_error: null });
    if (current.incident_id) await stores.notifications.refreshIncidentSummaries([current.incident_id]);
    return requeued;
  });
}

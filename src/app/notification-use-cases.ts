import { DomainError } from '../domain/errors.ts';
import { defaultMaxRetries, initialStatus, isCancellable, isRetryable, type Channel, type Notification } from '../domain/notification.ts';
import type { Clock } from '../ports/clock.ts';
import type { DeliveryQueue } from '../ports/queue.ts';
import type { Transact, Tx } from '../ports/transact.ts';
import type * as IncidentStore from '../adapters/postgres/incident-store.ts';
import type * as NotificationStore from '../adapters/postgres/notification-store.ts';
import type { NewNotificationRow, NotificationWithAttempts } from '../adapters/postgres/notification-store.ts';
import type { Enqueue, Summaries } from './notification-enqueue.ts';
import { checkNotificationInputs, type NotificationInput, type NotificationInputs, type Resolved } from './notification-inputs.ts';
import { newId } from './ids.ts';

// SPEC section 4: notifications sent through the API, one at a time or in batches, cancelled and
// redriven.

function toRow(input: NotificationInput, resolved: Resolved, now: Date, batchId: string | null): NewNotificationRow {
  const priority = input.priority ?? 'normal';
  const scheduledAt = resolved.scheduled_at;
  return {
    id: newId(),
    channel: input.channel,
    recipient: resolved.recipient,
    user_id: resolved.user_id,
    subject: resolved.subject,
    content: resolved.content,
    content_type: resolved.content_type,
    priority,
    status: initialStatus(scheduledAt, now),
    scheduled_at: scheduledAt,
    max_retries: input.max_retries ?? defaultMaxRetries[priority],
    batch_id: batchId,
    incident_id: input.incident_id ?? null,
    metadata: input.metadata ?? {},
    job_id: newId(),
  };
}

export function makeNotificationUseCases(deps: {
  transact: Transact;
  clock: Clock;
  /** Why a channel cannot be used on this server (its provider is not configured), or null. */
  channelProblem: (channel: Channel) => string | null;
  inputs: NotificationInputs;
  enqueue: Enqueue;
  summaries: Summaries;
  queue: DeliveryQueue;
  notifications: typeof NotificationStore;
  incidents: Pick<typeof IncidentStore, 'lockIncident'>;
}) {
  const { notifications } = deps;

  /**
   * Locks a notification and, first, its incident: the order paging takes them in (an acknowledge
   * locks the incident, then the pages it holds back), so the two never wait for each other
   * (SPEC section 4: concurrent writes that touch one incident never deadlock). An incident_id
   * only ever changes to null (the incident deleted), which needs the incident's lock.
   */
  async function lockInOrder(tx: Tx, id: string): Promise<Notification> {
    const incidentId = await notifications.notificationIncident(tx, id);
    if (incidentId) await deps.incidents.lockIncident(tx, incidentId);
    const current = incidentId === undefined ? undefined : await notifications.lockNotification(tx, id);
    if (!current) throw new DomainError('NOTIFICATION_NOT_FOUND', `notification ${id} does not exist`);
    return current;
  }

  async function createWithin(tx: Tx, input: NotificationInput): Promise<Notification> {
    checkNotificationInputs([input], deps.channelProblem, () => 'body');
    const now = deps.clock.now();
    const [resolved] = await deps.inputs.resolve(tx, [input], now, () => 'body');
    const [created] = await deps.enqueue(tx, [toRow(input, resolved!, now, null)]);
    return created!;
  }

  async function createBatchWithin(tx: Tx, inputs: NotificationInput[]) {
    const fieldOf = (index: number) => `body.notifications.${index}`;
    checkNotificationInputs(inputs, deps.channelProblem, fieldOf);
    const batchId = newId();
    const now = deps.clock.now();
    const resolved = await deps.inputs.resolve(tx, inputs, now, fieldOf);
    const created = await deps.enqueue(tx, inputs.map((input, index) => toRow(input, resolved[index]!, now, batchId)));
    return { batch_id: batchId, count: created.length, ids: created.map((n) => n.id) };
  }

  return {
    createWithin,
    createBatchWithin,
    create: (input: NotificationInput) => deps.transact((tx) => createWithin(tx, input)),
    createBatch: (inputs: NotificationInput[]) => deps.transact((tx) => createBatchWithin(tx, inputs)),

    /**
     * DELETE /v1/notifications/:id. The row lock decides races with a worker: whoever changes the
     * status first wins, and a worker only sends what it moved from queued to sending itself.
     */
    cancel(id: string): Promise<Notification> {
      return deps.transact(async (tx) => {
        const current = await lockInOrder(tx, id);
        if (!isCancellable(current.status)) {
          throw new DomainError('NOT_CANCELLABLE', `notification is ${current.status}; only scheduled or queued ones can be cancelled`, { status: current.status });
        }
        if (current.job_id) await deps.queue.cancel(tx, current.channel, current.job_id);
        const cancelled = await notifications.updateNotification(tx, id, { status: 'cancelled', job_id: null });
        await deps.summaries.refresh(tx, [current.incident_id]);
        return cancelled;
      });
    },

    /**
     * POST /v1/notifications/:id/retry: a failed notification goes back to the queue with fresh
     * retries. Answers it as this transaction left it (queued, with its earlier attempts): read
     * after the commit, a worker woken by the new job could already have claimed it.
     */
    retry(id: string): Promise<NotificationWithAttempts> {
      return deps.transact(async (tx) => {
        const current = await lockInOrder(tx, id);
        if (!isRetryable(current.status)) {
          throw new DomainError('NOT_RETRYABLE', `notification is ${current.status}; only failed ones can be retried`, { status: current.status });
        }
        const jobId = newId();
        await deps.queue.removeDeadLetter(tx, current.channel, id);
        await deps.queue.enqueue(tx, [{ id: jobId, channel: current.channel, notification_id: id, priority: current.priority, start_after: null }]);
        await notifications.updateNotification(tx, id, { status: 'queued', job_id: jobId, retry_count: 0, last_error: null });
        await deps.summaries.refresh(tx, [current.incident_id]);
        return (await notifications.getNotification(tx, id))!;
      });
    },
  };
}

export type NotificationUseCases = ReturnType<typeof makeNotificationUseCases>;

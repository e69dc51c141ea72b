import { fromKysely, type PgBoss } from 'pg-boss';
import type { Channel } from '../../domain/notification.ts';
import { jobPriority } from '../../domain/notification.ts';
import type { DeliveryQueue } from '../../ports/queue.ts';
import type { Tx } from '../../ports/transact.ts';
import { executor } from '../postgres/transact.ts';
import { jobTrace, withJobPublishSpan, type JobTrace } from '../telemetry/trace-context.ts';

// One pg-boss queue per channel (SPEC section 4), so a slow channel never holds up another,
// each with its own dead letter queue.
export const queueName = (channel: Channel): string => `notify-${channel}`;
export const deadLetterQueueName = (channel: Channel): string => `notify-${channel}-dead`;

export interface DeliveryJobData extends JobTrace {
  notification_id: string;
}

/** pg-boss writes in the caller's transaction, through its kysely adapter. */
const inTx = (tx: Tx) => fromKysely(executor(tx));

export function makeDeliveryQueue(boss: PgBoss): DeliveryQueue {
  return {
    async enqueue(tx, jobs) {
      const db = inTx(tx);
      const byChannel = new Map<Channel, typeof jobs>();
      for (const job of jobs) byChannel.set(job.channel, [...(byChannel.get(job.channel) ?? []), job]);
      for (const [channel, list] of byChannel) {
        // SPEC section 12: each job carries the context of this insert's publish span; a job with
        // a start time (a retry, a hand-back) is deferred, so its consumer links to it.
        await withJobPublishSpan(queueName(channel), list.length, () => {
          const [dueNow, deferred] = [jobTrace(false), jobTrace(true)];
          return boss.insert(
            queueName(channel),
            list.map((job) => ({
              id: job.id,
              data: { notification_id: job.notification_id, ...(job.start_after === null ? dueNow : deferred) } satisfies DeliveryJobData,
              priority: jobPriority[job.priority],
              ...(job.start_after ? { startAfter: job.start_after } : {}),
            })),
            { db },
          );
        });
      }
    },
    async deadLetter(tx, channel, notificationIds) {
      const db = inTx(tx);
      await boss.insert(
        deadLetterQueueName(channel),
        notificationIds.map((id) => ({ data: { notification_id: id } satisfies DeliveryJobData })),
        { db },
      );
    },
    async cancel(tx, channel, jobId) {
      const db = inTx(tx);
      await boss.deleteJob(queueName(channel), jobId, { db });
    },
    async removeDeadLetter(tx, channel, notificationId) {
      const db = inTx(tx);
      const dead = await boss.findJobs<DeliveryJobData>(deadLetterQueueName(channel), { data: { notification_id: notificationId }, db });
      if (dead.length > 0) await boss.deleteJob(deadLetterQueueName(channel), dead.map((job) => job.id), { db });
    },
  };
}

import type { PgBoss } from 'pg-boss';
import type { Delivery } from '../../app/deliver-notifications.ts';
import { channels } from '../../domain/notification.ts';
import { withJobSpan } from '../telemetry/trace-context.ts';
import { deadLetterQueueName, queueName, type DeliveryJobData } from './delivery-queue.ts';

export interface WorkerTuning {
  /** Jobs fetched per round trip. */
  batchSize: number;
  /** Batches in flight per channel in this process. */
  concurrency: number;
}

/**
 * The channel queues and their dead letter queues. Every role creates them (creation is
 * idempotent), because API processes insert into them.
 *
 * Retries of failed deliveries are Tocsin's own (a new job per retry, see deliverJobs); pg-boss's
 * retryLimit only covers a worker that died or hung mid-batch: its jobs lose their heartbeat and
 * are handed to another worker, which delivers them again under the same notification id.
 */
export async function createNotificationQueues(boss: PgBoss): Promise<void> {
  for (const channel of channels) {
    await boss.createQueue(deadLetterQueueName(channel), { retentionSeconds: 30 * 24 * 3600 });
    await boss.createQueue(queueName(channel), {
      deadLetter: deadLetterQueueName(channel),
      notify: true,
      retryLimit: 10,
      retryDelay: 1,
      heartbeatSeconds: 10,
      expireInSeconds: 300,
      deleteAfterSeconds: 3600,
    });
  }
}

export async function startDeliveryWorkers(boss: PgBoss, delivery: Delivery, tuning: WorkerTuning): Promise<void> {
  for (const channel of channels) {
    await boss.work<DeliveryJobData>(
      queueName(channel),
      {
        batchSize: tuning.batchSize,
        localConcurrency: tuning.concurrency,
        // NOTIFY wakes the worker when a job commits; these polls are only the safety net, and
        // a full batch means more work is waiting, so fetch again at once.
        pollingIntervalSeconds: 1,
        notifyPollingIntervalSeconds: 2,
        burstWhenBatchFull: true,
      },
      async (jobs) => {
        // Every job of the batch completes; the dead letter copies of those that failed for good
        // were inserted with their statuses (see deliverJobs). pg-boss's per-job settlement did the
        // same through a JSON recordset that cost ~29 ms per batch of 200, more than anything else.
        // SPEC section 12: the batch's consumer span, active for the claim, the provider calls
        // (their client spans) and the outcome's write; a child of the request for one job due at
        // once, else linked to every job's publish span.
        await withJobSpan(queueName(channel), jobs, () =>
          delivery.deliverJobs(channel, jobs.map((job) => ({ job_id: job.id, notification_id: job.data.notification_id }))),
        );
      },
    );
  }
}

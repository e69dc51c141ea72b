import type { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import type { HeartbeatUseCases } from '../../app/heartbeat-use-cases.ts';
import type { HeartbeatQueue } from '../../ports/queue.ts';
import type { Database } from '../postgres/database.ts';
import { overdueHeartbeats } from '../postgres/heartbeat-store.ts';
import { readerOf } from '../postgres/transact.ts';
import { withJobSpan } from '../telemetry/trace-context.ts';
import { HEARTBEAT_CHECK_QUEUE, type CheckJobData } from './heartbeat-queue.ts';

// The worker side of heartbeat checks; how checks are scheduled is explained in heartbeat-queue.ts.

// A once-a-minute safety net: a heartbeat that is overdue by more than a minute has lost its check
// job (its retries ran out while the database was away, say), so it gets a new one.
export const HEARTBEAT_SWEEP_QUEUE = 'heartbeat-sweep';
const SWEEP_GRACE_SECONDS = 60;

export async function startHeartbeatWorker(deps: { boss: PgBoss; db: Database; heartbeats: Pick<HeartbeatUseCases, 'check'>; queue: HeartbeatQueue; logger: Logger }) {
  const { boss } = deps;
  await boss.work<CheckJobData>(
    HEARTBEAT_CHECK_QUEUE,
    // The jobs are deferred, so NOTIFY would not help; a one-second poll bounds how late a miss is noticed.
    { batchSize: 20, pollingIntervalSeconds: 1 },
    async (jobs) => {
      for (const job of jobs) {
        await withJobSpan(HEARTBEAT_CHECK_QUEUE, [job], async () => {
          const outcome = await deps.heartbeats.check(job.data.heartbeat_id);
          if (outcome === 'missed') deps.logger.info({ heartbeat_id: job.data.heartbeat_id }, 'heartbeat missed: incident opened');
        });
      }
    },
  );

  await boss.createQueue(HEARTBEAT_SWEEP_QUEUE, { retryLimit: 1, expireInSeconds: 60 });
  await boss.schedule(HEARTBEAT_SWEEP_QUEUE, '* * * * *');
  await boss.work(HEARTBEAT_SWEEP_QUEUE, async () => {
    const overdue = await overdueHeartbeats(deps.db, SWEEP_GRACE_SECONDS);
    for (const heartbeat of overdue) await deps.queue.arm(readerOf(deps.db), heartbeat.id, new Date());
    if (overdue.length > 0) deps.logger.warn({ count: overdue.length }, 'heartbeat checks re-armed by the sweep');
    return { rearmed: overdue.length };
  });
}

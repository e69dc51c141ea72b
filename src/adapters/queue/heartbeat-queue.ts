import { fromKysely, type PgBoss } from 'pg-boss';
import type { HeartbeatQueue } from '../../ports/queue.ts';
import { executor } from '../postgres/transact.ts';
import { jobTrace, withJobPublishSpan, type JobTrace } from '../telemetry/trace-context.ts';

// Heartbeat checks run on the queue (SPEC section 6), so they work with any number of worker
// processes and survive restarts; no process keeps a timer of its own.
//
// Why one deferred job per heartbeat rather than a cron sweep: pg-boss cron fires at most once a
// minute, far too coarse for a heartbeat of a few seconds. Each heartbeat instead has one pending
// `heartbeat-check` job, startAfter = its due_at, singletonKey = its id, on a queue with the
// `short` policy (at most one *queued* job per key; inserting another is a no-op). A ping does not
// move the pending job: it only inserts one when none is waiting. When the job runs and finds that
// a ping moved due_at later, it re-arms itself for the new due_at (allowed: the running job is
// active, not queued). This stays correct because due_at only ever moves forward, so the job that
// is waiting always fires at or before the real deadline. The cost is at most one job run per
// interval per heartbeat, which is what a per-heartbeat check costs anyway.
export const HEARTBEAT_CHECK_QUEUE = 'heartbeat-check';

export interface CheckJobData extends JobTrace {
  heartbeat_id: string;
}

/** Every role creates the queue (API processes arm checks when a heartbeat is created or pinged). */
export async function createHeartbeatQueues(boss: PgBoss): Promise<void> {
  await boss.createQueue(HEARTBEAT_CHECK_QUEUE, {
    policy: 'short',
    retryLimit: 5,
    retryDelay: 1,
    retryBackoff: true,
    expireInSeconds: 60,
    deleteAfterSeconds: 3600,
  });
}

/** Arms checks inside the caller's transaction, so a heartbeat and its check commit together. */
export function makeHeartbeatQueue(boss: PgBoss): HeartbeatQueue {
  return {
    async arm(tx, heartbeatId, at) {
      const connection = fromKysely(executor(tx));
      // A check runs at the heartbeat's due time: deferred, its consumer span links to this one.
      await withJobPublishSpan(HEARTBEAT_CHECK_QUEUE, 1, () =>
        boss.send(HEARTBEAT_CHECK_QUEUE, { heartbeat_id: heartbeatId, ...jobTrace(true) } satisfies CheckJobData, {
          singletonKey: heartbeatId,
          startAfter: at,
          db: connection,
        }),
      );
    },
  };
}

import { fromKysely, type PgBoss } from 'pg-boss';
import type { EscalationQueue } from '../../ports/queue.ts';
import { executor } from '../postgres/transact.ts';
import { jobTrace, withJobPublishSpan, type JobTrace } from '../telemetry/trace-context.ts';

// SPEC section 5: each later escalation level is a pg-boss job that starts at its due time.
export const ESCALATION_QUEUE = 'escalate';

export interface EscalationJobData extends JobTrace {
  incident_id: string;
  run: number;
  round: number;
  level: number;
}

/**
 * The queue is 'short': at most one waiting job per singletonKey, and the key names the step
 * (incident, run, round, level). The incident_escalations row is the real guarantee (a step is
 * paged only while its row is still scheduled under this job); the queue policy keeps the queue
 * itself free of duplicates too. Every role creates it, because API processes schedule steps.
 */
export async function createEscalationQueue(boss: PgBoss): Promise<void> {
  await boss.createQueue(ESCALATION_QUEUE, {
    policy: 'short',
    notify: true,
    // A worker that dies mid-step loses its heartbeat and the job goes to another worker; the
    // row lock and status check make the second run a no-op if the first one committed.
    retryLimit: 20,
    retryDelay: 1,
    retryBackoff: true,
    retryDelayMax: 60,
    heartbeatSeconds: 10,
    expireInSeconds: 120,
    deleteAfterSeconds: 7 * 24 * 3600,
  });
}

export function makeEscalationQueue(boss: PgBoss): EscalationQueue {
  return {
    async schedule(tx, job) {
      const db = fromKysely(executor(tx));
      // A step runs at its due time: deferred, so its consumer span links to this publish span.
      await withJobPublishSpan(ESCALATION_QUEUE, 1, () =>
        boss.insert(
          ESCALATION_QUEUE,
          [{
            id: job.id,
            data: { incident_id: job.incident_id, run: job.run, round: job.round, level: job.level, ...jobTrace(true) } satisfies EscalationJobData,
            startAfter: job.start_after,
            singletonKey: `${job.incident_id}:${job.run}:${job.round}:${job.level}`,
          }],
          { db },
        ),
      );
    },
    async cancel(tx, jobId) {
      const db = fromKysely(executor(tx));
      await boss.deleteJob(ESCALATION_QUEUE, jobId, { db });
    },
  };
}

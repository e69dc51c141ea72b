import type { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import type { EscalationRunner } from '../../app/escalation-runner.ts';
import { withJobSpan } from '../telemetry/trace-context.ts';
import { ESCALATION_QUEUE, type EscalationJobData } from './escalation-queue.ts';

export async function startEscalationWorker(boss: PgBoss, runStep: EscalationRunner, logger: Logger): Promise<void> {
  await boss.work<EscalationJobData>(
    ESCALATION_QUEUE,
    {
      batchSize: 10,
      localConcurrency: 1,
      perJobResults: true,
      // Steps are deferred jobs: their NOTIFY fires when they are scheduled, not when they fall
      // due, so a short poll is what makes a level page on time (within half a second).
      pollingIntervalSeconds: 0.5,
      notifyPollingIntervalSeconds: 0.5,
    },
    async (jobs) => {
      // One transaction per step: a failing step is retried alone, the others stand.
      const results = [];
      for (const job of jobs) {
        const { incident_id, run, round, level } = job.data;
        try {
          // SPEC section 12: a step is a new trace, its consumer span linked to the span that
          // scheduled it; the deliveries it enqueues are children of it.
          await withJobSpan(ESCALATION_QUEUE, [job], async () => {
            try {
              await runStep({ job_id: job.id, incident_id, run, round, level });
            } catch (error) {
              logger.error({ err: error, job_id: job.id, incident_id, run, round, level }, 'escalation step failed; it will be retried');
              throw error;
            }
          });
          results.push({ id: job.id, status: 'completed' as const });
        } catch (error) {
          results.push({ id: job.id, status: 'failed' as const, output: { error: (error as Error).message } });
        }
      }
      return results;
    },
  );
}

import type { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import type { DeliveryQueue, EscalationQueue } from '../../ports/queue.ts';
import type { Transact } from '../../ports/transact.ts';
import { sweepOnce } from './stranded-sweep.ts';

export const SWEEP_QUEUE = 'tocsin-sweep';

// Rows per pass; a pass is one short transaction, and passes repeat while they come back full.
const PASS_LIMIT = 500;

/**
 * The sweep of SPEC section 4 on the queue, every SWEEP_INTERVAL_SECONDS. pg-boss's cron works in
 * minutes, so every worker process offers a sweep job on a timer instead, throttled by pg-boss to
 * one per interval (singletonSeconds): however many workers run, one of them sweeps each interval.
 * The sweep itself is safe to run twice at once (see stranded-sweep.ts); the throttle only
 * saves the work. Each recovery is logged with what happened to its job, and counted for
 * /metrics (tocsin_sweep_recovered_total).
 */
export async function startSweepWorker(deps: {
  boss: PgBoss;
  transact: Transact;
  deliveryQueue: DeliveryQueue;
  escalationQueue: EscalationQueue;
  logger: Logger;
  intervalSeconds: number;
}) {
  const { boss, logger, intervalSeconds } = deps;
  await boss.createQueue(SWEEP_QUEUE, { retryLimit: 0, expireInSeconds: 300, deleteAfterSeconds: 3600, notify: true });
  await boss.work(SWEEP_QUEUE, { pollingIntervalSeconds: Math.max(0.5, Math.min(intervalSeconds, 2)), notifyPollingIntervalSeconds: Math.max(0.5, Math.min(intervalSeconds, 2)) }, async () => {
    const started = Date.now();
    let notifications = 0;
    let steps = 0;
    for (;;) {
      const pass = await sweepOnce(deps, PASS_LIMIT);
      for (const n of pass.notifications) {
        logger.warn(
          { notification_id: n.id, channel: n.channel, was: n.was, old_job_id: n.old_job_id, old_job_state: n.job_state ?? 'gone', job_id: n.job_id },
          'sweep: a notification had no live job; it is back on the queue',
        );
      }
      for (const s of pass.steps) {
        logger.warn(
          { incident_id: s.incident_id, run: s.run, round: s.round, level: s.level, old_job_id: s.old_job_id, old_job_state: s.job_state ?? 'gone', job_id: s.job_id },
          'sweep: an escalation step had no live job; it is back on the queue',
        );
      }
      notifications += pass.notifications.length;
      steps += pass.steps.length;
      if (pass.notifications.length < PASS_LIMIT && pass.steps.length < PASS_LIMIT) break;
    }
    if (notifications + steps > 0) logger.warn({ notifications, escalation_steps: steps, ms: Date.now() - started }, 'sweep: recovered stranded work');
    return { notifications, escalation_steps: steps };
  });

  const offer = () =>
    boss.send(SWEEP_QUEUE, null, { singletonSeconds: intervalSeconds, singletonKey: 'sweep' }).catch((error: unknown) => {
      // PostgreSQL is away; the next tick offers again.
      logger.debug({ err: error }, 'sweep: could not offer a sweep job');
    });
  await offer();
  // Several offers per interval, so that a slot is never missed by a timer that drifted.
  const timer = setInterval(offer, Math.max(250, (intervalSeconds * 1000) / 3));
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
    },
  };
}

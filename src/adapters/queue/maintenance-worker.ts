import type { Logger } from 'pino';
import type { PgBoss } from 'pg-boss';
import type { Database } from '../postgres/database.ts';
import { deleteOldChannelWindows } from '../postgres/channel-rate-limiter.ts';
import { deleteExpiredIdempotencyKeys } from '../postgres/idempotency-store.ts';
import { deleteOldRateLimitWindows } from '../postgres/rate-limit-store.ts';

export const MAINTENANCE_QUEUE = 'tocsin-maintenance';

/**
 * Housekeeping on the queue (pg-boss cron), so that exactly one worker does it however many run:
 * expired Idempotency-Key records (IDEMPOTENCY_TTL_HOURS) and old rate limit windows.
 */
export async function startMaintenanceWorker(deps: { boss: PgBoss; db: Database; logger: Logger }) {
  await deps.boss.createQueue(MAINTENANCE_QUEUE, { retryLimit: 2, expireInSeconds: 300 });
  await deps.boss.schedule(MAINTENANCE_QUEUE, '*/10 * * * *');
  await deps.boss.work(MAINTENANCE_QUEUE, async () => {
    const removed = {
      idempotency_keys: await deleteExpiredIdempotencyKeys(deps.db),
      rate_limit_windows: await deleteOldRateLimitWindows(deps.db),
      channel_windows: await deleteOldChannelWindows(deps.db),
    };
    deps.logger.info({ removed }, 'maintenance done');
    return removed;
  });
}

import { setTimeout as sleep } from 'node:timers/promises';
import type { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import type { Database } from '../postgres/database.ts';
import { deleteEndedNotifications } from '../postgres/retention-store.ts';

export const RETENTION_QUEUE = 'tocsin-retention';

const BATCH = 1000;
// A day's job stops after this long and leaves the rest to the next day's, so that it never
// outlives its own expiry (expireInSeconds) however large the backlog of old rows.
const RUN_LIMIT_MS = 45 * 60_000;

/**
 * NOTIFICATION_RETENTION_DAYS (SPEC section 4): a daily job on the queue (pg-boss cron, so exactly
 * one worker runs it however many there are) deletes ended notifications in batches of BATCH,
 * one short statement each, pausing between them so that live traffic keeps its share of the
 * database.
 */
export async function startRetentionWorker(deps: { boss: PgBoss; db: Database; logger: Logger; retentionDays: number }) {
  await deps.boss.createQueue(RETENTION_QUEUE, { retryLimit: 2, retryDelay: 60, expireInSeconds: 3600 });
  await deps.boss.schedule(RETENTION_QUEUE, '17 3 * * *');
  await deps.boss.work(RETENTION_QUEUE, async () => {
    const started = Date.now();
    const cutoff = new Date(started - deps.retentionDays * 86_400_000);
    let deleted = 0;
    for (;;) {
      const n = await deleteEndedNotifications(deps.db, cutoff, BATCH);
      deleted += n;
      if (n < BATCH || Date.now() - started > RUN_LIMIT_MS) break;
      await sleep(20);
    }
    deps.logger.info({ deleted, cutoff: cutoff.toISOString(), retention_days: deps.retentionDays, ms: Date.now() - started }, 'retention: ended notifications deleted');
    return { deleted };
  });
}

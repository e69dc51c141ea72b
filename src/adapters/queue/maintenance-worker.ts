import type { Logger } from 'pino';
import type { PgBoss } from 'pg-boss';
import type { Database } from '../postgres/database.ts';
import { deleteOldChannelWindows } from '../postgres/channel-rate-limiter.ts';
import { deleteExpiredIdempotencyKeys } from '../postgres/idempotency-store.ts';
import { deleteOldRateLimitWindows } from '../postgres/rate-limit-store.ts';
import { deleteChangesBefore } from '../postgres/change-store.ts';
import { deleteExpiredStreamTickets } from '../postgres/stream-ticket-store.ts';
import { deleteExpiredSessions } from '../postgres/session-store.ts';
import { deleteStaleReplyCodes } from '../postgres/reply-code-store.ts';
import { readerOf } from '../postgres/transact.ts';

export const MAINTENANCE_QUEUE = 'tocsin-maintenance';

/**
 * Housekeeping on the queue (pg-boss cron), so that exactly one worker does it however many run:
 * expired Idempotency-Key records (IDEMPOTENCY_TTL_HOURS) and old rate limit windows; events older
 * than EVENT_RETENTION_HOURS (SPEC section 7, which also records how far it deleted, for `event:
 * reset`) and unused stream tickets.
 */
export async function startMaintenanceWorker(deps: { boss: PgBoss; db: Database; logger: Logger; eventRetentionHours: number }) {
  await deps.boss.createQueue(MAINTENANCE_QUEUE, { retryLimit: 2, expireInSeconds: 300 });
  await deps.boss.schedule(MAINTENANCE_QUEUE, '*/10 * * * *');
  await deps.boss.work(MAINTENANCE_QUEUE, async () => {
    const removed = {
      idempotency_keys: await deleteExpiredIdempotencyKeys(deps.db),
      rate_limit_windows: await deleteOldRateLimitWindows(deps.db),
      channel_windows: await deleteOldChannelWindows(deps.db),
      events: await deleteChangesBefore(deps.db, new Date(Date.now() - deps.eventRetentionHours * 3_600_000)),
      stream_tickets: await deleteExpiredStreamTickets(readerOf(deps.db)),
      sessions_and_setup_links: await deleteExpiredSessions(readerOf(deps.db)),
      sms_reply_codes: await deleteStaleReplyCodes(readerOf(deps.db)),
    };
    deps.logger.info({ removed }, 'maintenance done');
    return removed;
  });
}

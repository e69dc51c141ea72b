import { sql } from 'kysely';
import type { Executor } from './database.ts';

/**
 * SPEC section 4: notifications that ended (sent, failed or cancelled) before `cutoff` are deleted
 * with their attempts (ON DELETE CASCADE), at most `batch` per statement. Each call is one short
 * statement holding row locks only on what it deletes, never a table lock. An ended notification's
 * updated_at is when it ended, and it was created before that, so the range on created_at lets
 * notifications_created_idx find them oldest first: past the retention, nearly every row has
 * ended, so the walk reads few others. (The status index leaves `sent` out, see
 * migrations/2026-11-30T11-00_unsent-status-index.ts.) The incidents'
 * timelines keep their notification.sent and notification.failed entries.
 */
export async function deleteEndedNotifications(db: Executor, cutoff: Date, batch: number): Promise<number> {
  const result = await sql`
    delete from notifications
    where id in (
      select id from notifications
      where status in ('sent', 'failed', 'cancelled') and created_at < ${cutoff} and updated_at < ${cutoff}
      order by created_at
      limit ${batch}
      for update skip locked
    )`.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

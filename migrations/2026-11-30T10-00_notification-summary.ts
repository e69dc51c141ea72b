// Frozen in time: this file never imports application code. SPEC section 3: an incident's
// `notification_status` from the counts of its notifications, as a SQL function, so that the
// counting and the update are one statement (summarize() in src/domain/notification.ts is the
// same rule; tests/notification-summary.test.ts holds them equal).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create function tocsin_notification_summary(pending bigint, sent bigint, failed bigint) returns text
    language sql immutable parallel safe as $$
      select case
        when pending + sent + failed = 0 then 'none'
        when pending > 0 then 'pending'
        when failed = 0 then 'sent'
        when sent = 0 then 'failed'
        else 'partial'
      end
    $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function tocsin_notification_summary(bigint, bigint, bigint)`.execute(db);
}

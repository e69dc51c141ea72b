// Frozen in time: this file never imports application code. SPEC section 9 (delivery, issue 17).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // The status index leaves out `sent`, where nearly every notification ends. Each delivery moves
  // its notification from `sending` to `sent`; that update is never a HOT one (status changes), so
  // it writes an entry into every index of the row, and into this one for nothing: a list of sent
  // notifications walks notifications_created_idx and finds them at once, because they are most
  // of the table. What this index is for is the rare statuses: a list of failed or queued ones,
  // the metrics' pending count, the stranded sweep. Measured in a drain of 20,000
  // (pg_stat_statements, bench/README.md): the outcome's statement wrote 1,030 bytes of WAL a
  // notification instead of 1,160. On a table of millions, the index holds only what has not been
  // sent. Queries that filter on one status write it as a literal (listNotifications), so that
  // even a generic plan of a prepared statement knows it is not `sent` and can use this index.
  await sql`drop index notifications_status_created_idx`.execute(db);
  await sql`
    create index notifications_unsent_status_created_idx on notifications (status, created_at desc, id desc)
      where status <> 'sent'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index notifications_unsent_status_created_idx`.execute(db);
  await sql`create index notifications_status_created_idx on notifications (status, created_at desc, id desc)`.execute(db);
}

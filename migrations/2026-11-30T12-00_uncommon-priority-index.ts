// Frozen in time: this file never imports application code. SPEC section 9 (delivery, issue 17).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // As the status index leaves `sent` out (2026-11-30T11-00), the priority index leaves out
  // `normal`, the default and what most notifications have: a list of normal ones walks
  // notifications_created_idx and finds a page of them at once, and a list of high or low ones
  // reads this index. Neither of a notification's two updates in a delivery (the claim, the
  // outcome) is a HOT one, so each wrote an entry here for every normal notification too. Measured
  // by bench/run.ts's WAL per delivered job (--delivery-only, 20,000 normal notifications).
  await sql`drop index notifications_priority_created_idx`.execute(db);
  await sql`
    create index notifications_uncommon_priority_created_idx on notifications (priority, created_at desc, id desc)
      where priority <> 'normal'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index notifications_uncommon_priority_created_idx`.execute(db);
  await sql`create index notifications_priority_created_idx on notifications (priority, created_at desc, id desc)`.execute(db);
}

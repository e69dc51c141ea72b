// Frozen in time: this file never imports application code. SPEC section 4 (issue 9).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // From here on attempt_count is the number of attempts handed out: each claim takes the next
  // one (under the row lock), the request it sends carries it, and its attempt row is stored
  // under it. A number with no row is a claim whose worker stopped before recording.
  await sql`comment on column notifications.attempt_count is 'the last attempt number a claim took; attempts are stored under their claim''s number'`.execute(db);

  // What the sweep put back on the queue, counted in the database so that /metrics on any API
  // process reports it, whichever worker process did the sweeping.
  await sql`
    create table sweep_recoveries (
      kind text primary key check (kind in ('notification', 'escalation_step')),
      total bigint not null default 0,
      last_at timestamptz(3)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists sweep_recoveries`.execute(db);
  await sql`comment on column notifications.attempt_count is null`.execute(db);
}

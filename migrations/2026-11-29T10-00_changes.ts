// Frozen in time: this file never imports application code. SPEC section 7 (issue 11): the change
// feed every stream reads.
import { sql, type Kysely } from 'kysely';

// The advisory lock key of the feed (any constant; pg-boss uses hashtext() keys of its own names).
const FEED_LOCK = 7_414_391_001;

export async function up(db: Kysely<unknown>): Promise<void> {
  // One row per change a client can see, written in the transaction that made the change. Ids come
  // from an identity column, so they increase in the order rows are appended; the lock below makes
  // that the order in which readers can see them (see tocsin_changes_horizon).
  await sql`
    create table changes (
      id bigint generated always as identity primary key,
      type text not null,
      at timestamptz(3) not null default now(),
      data jsonb not null
    )`.execute(db);
  // Retention (EVENT_RETENTION_HOURS) deletes from the oldest end.
  await sql`create index changes_at_idx on changes (at)`.execute(db);

  // The settled horizon: the largest id below which no transaction can still commit a change.
  // Writers take this lock SHARED just before they append (so they never wait on each other), and
  // hold it until they commit or roll back. Taking it EXCLUSIVE waits for every appender in flight;
  // once granted, every id up to max(id) belongs to a finished transaction, so a reader that follows
  // `id > last` up to this horizon never skips an id that commits later. Each statement of a
  // volatile function takes a fresh snapshot, so max(id) is read after the lock is granted, and
  // the lock is released when the calling statement ends.
  await sql`
    create function tocsin_changes_horizon() returns bigint language plpgsql volatile as $$
    begin
      perform pg_advisory_xact_lock(${sql.lit(FEED_LOCK)});
      return coalesce((select max(id) from changes), 0);
    end $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function tocsin_changes_horizon()`.execute(db);
  await sql`drop table changes`.execute(db);
}

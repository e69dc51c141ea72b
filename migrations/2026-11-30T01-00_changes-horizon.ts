// Frozen in time: this file never imports application code. SPEC section 7: the change feed's
// settled horizon, found without making writers wait.
import { sql, type Kysely } from 'kysely';

// The feed lock of 2026-11-29T10-00_changes.ts (key 7414391001): pg_locks shows a bigint advisory
// key as classid (its high 32 bits) and objid (its low 32 bits), objsubid 1.
const HIGH = 1;
const LOW = 3_119_423_705;

export async function up(db: Kysely<unknown>): Promise<void> {
  // The first version took the feed lock exclusively. That waits for the appenders in flight, as it
  // must, but while it waits PostgreSQL queues every new appender behind it, so each read stalled
  // every writer for the length of the longest commit in flight: with readers following a busy
  // feed, appends ran at about three quarters of their rate. This version reads the same guarantee
  // off pg_locks instead, and nobody waits for the reader:
  //   1. every id handed out so far, in flight ones included (the identity's sequence);
  //   2. the transactions holding the feed lock right now: every transaction that drew an id in 1
  //      took the lock before drawing it and holds it until it ends, so any of them still running
  //      is among these;
  //   3. wait until those have ended (commits take a millisecond or two).
  // Then every id up to the one read in 1 belongs to a finished transaction.
  await sql`
    create or replace function tocsin_changes_horizon() returns bigint language plpgsql volatile as $$
    declare
      allocated bigint;
      appenders text[];
    begin
      select case when is_called then last_value else 0 end into allocated from changes_id_seq;
      select array_agg(virtualtransaction) into appenders from pg_locks
        where locktype = 'advisory' and classid = ${sql.lit(HIGH)} and objid = ${sql.lit(LOW)} and objsubid = 1 and granted;
      while appenders is not null and exists (
        select 1 from pg_locks
        where locktype = 'advisory' and classid = ${sql.lit(HIGH)} and objid = ${sql.lit(LOW)} and objsubid = 1
          and virtualtransaction = any (appenders)
      ) loop
        perform pg_sleep(0.001);
      end loop;
      return allocated;
    end $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    create or replace function tocsin_changes_horizon() returns bigint language plpgsql volatile as $$
    begin
      perform pg_advisory_xact_lock(7414391001);
      return coalesce((select max(id) from changes), 0);
    end $$`.execute(db);
}

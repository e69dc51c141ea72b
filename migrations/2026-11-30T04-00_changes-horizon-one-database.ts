// Frozen in time: this file never imports application code. SPEC section 7: the change feed's
// settled horizon waits only for appenders in this database.
import { sql, type Kysely } from 'kysely';

// The feed lock of 2026-11-29T10-00_changes.ts (key 7414391001), as pg_locks shows it.
const HIGH = 1;
const LOW = 3_119_423_705;

export async function up(db: Kysely<unknown>): Promise<void> {
  // pg_locks lists the whole cluster. Advisory locks belong to one database, and 2026-11-30T01-00
  // forgot to say which: a reader waited for every transaction holding the feed lock in any
  // database of the server, so a long transaction in another Tocsin database (staging beside
  // production, or another test's database) held back every stream here. Found when a test of
  // the feed timed out in CI while other tests' databases were busy on the same server.
  await sql`
    create or replace function tocsin_changes_horizon() returns bigint language plpgsql volatile as $$
    declare
      here oid := (select oid from pg_database where datname = current_database());
      allocated bigint;
      appenders text[];
    begin
      select case when is_called then last_value else 0 end into allocated from changes_id_seq;
      select array_agg(virtualtransaction) into appenders from pg_locks
        where locktype = 'advisory' and database = here
          and classid = ${sql.lit(HIGH)} and objid = ${sql.lit(LOW)} and objsubid = 1 and granted;
      while appenders is not null and exists (
        select 1 from pg_locks
        where locktype = 'advisory' and database = here
          and classid = ${sql.lit(HIGH)} and objid = ${sql.lit(LOW)} and objsubid = 1
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

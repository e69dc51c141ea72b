// Frozen in time: this file never imports application code. SPEC section 7: the change feed's
// settled horizon looks at pg_locks less often while it waits.
import { sql, type Kysely } from 'kysely';

// The feed lock of 2026-11-29T10-00_changes.ts (key 7414391001), as pg_locks shows it.
const HIGH = 1;
const LOW = 3_119_423_705;

/** The horizon function, looking for the appenders every `pause` seconds, growing by `growth` up to `most`. */
const horizon = (first: number, growth: number, most: number, lookFirst: boolean) => sql`
  create or replace function tocsin_changes_horizon() returns bigint language plpgsql volatile as $$
  declare
    here oid := (select oid from pg_database where datname = current_database());
    allocated bigint;
    appenders text[];
    pause float8 := ${sql.lit(first)};
  begin
    select case when is_called then last_value else 0 end into allocated from changes_id_seq;
    select array_agg(virtualtransaction) into appenders from pg_locks
      where locktype = 'advisory' and database = here
        and classid = ${sql.lit(HIGH)} and objid = ${sql.lit(LOW)} and objsubid = 1 and granted;
    while appenders is not null loop
      ${lookFirst ? sql`` : sql`perform pg_sleep(pause);`}
      exit when not exists (
        select 1 from pg_locks
        where locktype = 'advisory' and database = here
          and classid = ${sql.lit(HIGH)} and objid = ${sql.lit(LOW)} and objsubid = 1
          and virtualtransaction = any (appenders)
      );
      ${lookFirst ? sql`perform pg_sleep(pause);` : sql``}
      pause := least(pause * ${sql.lit(growth)}, ${sql.lit(most)});
    end loop;
    return allocated;
  end $$`;

export async function up(db: Kysely<unknown>): Promise<void> {
  // A reader waits for the appenders that held the feed lock when it read the newest id. Each look
  // at pg_locks copies the server's whole lock table (about 0.5 ms with a delivering worker's
  // statements in flight), and it looked every millisecond: a worker's claim or record holds the
  // lock for 5-10 ms, so a reader spent about as long in pg_locks as asleep. Now it sleeps before
  // its first look (an appender seen a moment ago is seldom done already), then 2 ms, then 4.
  await horizon(0.001, 2, 0.004, false).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // 2026-11-30T04-00_changes-horizon-one-database.ts: a look, then every millisecond.
  await horizon(0.001, 1, 0.001, true).execute(db);
}

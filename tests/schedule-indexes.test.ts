// SPEC sections 2 and 11: what the schedule stores filter on is served by an index. Their own
// queries (captured through kysely's log) are EXPLAINed on 20,000 schedules and 60,000
// overrides, where each filtered value is rare; no timings are asserted.
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listOverrides } from '../src/adapters/postgres/schedule-override-store.ts';
import { listSchedules, scheduleWithOverrides, schedulesOfUser } from '../src/adapters/postgres/schedule-store.ts';
import type { DB } from '../src/adapters/postgres/schema.ts';
import { readerOf } from '../src/adapters/postgres/transact.ts';
import { describePlan, queryPlanner, type PlanNode } from './helpers/query-plans.ts';
import { createTestDatabase } from './helpers/test-database.ts';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Kysely<DB>;
let planOf: ReturnType<typeof queryPlanner>['planOf'];
let rareUser: string;
let rareTeam: string;
let busySchedule: string;

beforeAll(async () => {
  database = await createTestDatabase();
  ({ db, planOf } = queryPlanner(database.url));
  await sql`insert into users (name, email, time_zone, locale, preferences) select 'user ' || i, 'user' || i || '@example.com', 'UTC', 'en', '{}' from generate_series(1, 2000) as i`.execute(db);
  await sql`insert into teams (name) select 'team ' || i from generate_series(1, 100) as i`.execute(db);
  // Each schedule names three of the first 1,000 users; the last user is named by one schedule only.
  await sql`
    with u as (select array_agg(id::text order by email) as ids from users),
         t as (select array_agg(id order by name) as ids from teams)
    insert into schedules (name, time_zone, team_id, layers, created_by, created_at)
    select 'schedule ' || i, 'Europe/Berlin',
           case when i % 100 = 0 then t.ids[1 + (i / 100) % 100] end,
           jsonb_build_array(jsonb_build_object('name', 'l', 'start', '2026-01-05T09:00', 'turn', '{"count":1,"unit":"week"}'::jsonb, 'restrictions', '[]'::jsonb,
             'user_ids', jsonb_build_array(u.ids[1 + i % 1000], u.ids[1 + (i * 7) % 1000], case when i = 777 then u.ids[2000] else u.ids[1 + (i * 13) % 1000] end))),
           'test', now() - i * interval '1 second'
    from generate_series(1, 20000) as i, u, t`.execute(db);
  // 60,000 overrides over 200 schedules, most in the past; users 1,001 to 1,999 (the rare one has none).
  await sql`
    with s as (select array_agg(id order by created_at) as ids from schedules),
         u as (select array_agg(id order by email) as ids from users)
    insert into schedule_overrides (schedule_id, user_id, start_at, end_at, created_by)
    select s.ids[1 + i % 200], u.ids[1001 + i % 999], now() - (60000 - i) * interval '1 hour', now() - (60000 - i) * interval '1 hour' + interval '2 hours', 'test'
    from generate_series(1, 60000) as i, s, u`.execute(db);
  // VACUUM too: a GIN index keeps the statistics its cost estimate uses in its metapage, which
  // only VACUUM (autovacuum, on a live database) brings up to date.
  await sql`vacuum analyze users, teams, schedules, schedule_overrides`.execute(db);
  rareUser = (await sql<{ id: string }>`select id from users order by email desc limit 1`.execute(db)).rows[0]!.id;
  rareTeam = (await sql<{ team_id: string }>`select team_id from schedules where team_id is not null limit 1`.execute(db)).rows[0]!.team_id;
  busySchedule = (await sql<{ schedule_id: string }>`select schedule_id from schedule_overrides limit 1`.execute(db)).rows[0]!.schedule_id;
});
afterAll(async () => {
  await db?.destroy();
  await database?.drop();
});

function expectIndexed(plan: PlanNode[], indexes: string[]) {
  const described = describePlan(plan);
  expect(plan.filter((n) => n['Node Type'] === 'Seq Scan'), described).toEqual([]);
  for (const index of indexes) expect(plan.some((n) => n['Index Name'] === index), `${index}: ${described}`).toBe(true);
}

const week = [new Date(Date.now() - 3 * 86_400_000), new Date(Date.now() + 4 * 86_400_000)] as const;

describe('the schedule stores use their indexes (EXPLAIN on 20,000 schedules, 60,000 overrides)', () => {
  it('GET /v1/schedules, and by team', async () => {
    expectIndexed(await planOf(() => listSchedules(readerOf(db), { limit: 50 })), ['schedules_created_idx']);
    expectIndexed(await planOf(() => listSchedules(readerOf(db), { limit: 50, team_id: rareTeam })), ['schedules_team_idx']);
  });

  it("a user's shifts: the schedules whose layers or overrides name them", async () => {
    const found = await schedulesOfUser(readerOf(db), rareUser, ...week);
    expect(found.map((f) => f.schedule.name)).toEqual(['schedule 777']);
    expectIndexed(await planOf(() => schedulesOfUser(readerOf(db), rareUser, ...week)), ['schedules_layer_users_idx', 'schedule_overrides_user_idx']);
  });

  it('a schedule with the overrides around a window, and its overrides listed', async () => {
    expectIndexed(await planOf(() => scheduleWithOverrides(readerOf(db), busySchedule, ...week)), ['schedule_overrides_end_idx']);
    expectIndexed(await planOf(() => listOverrides(readerOf(db), busySchedule, { limit: 50 })), ['schedule_overrides_start_idx']);
    expectIndexed(await planOf(() => listOverrides(readerOf(db), busySchedule, { limit: 50, since: week[0] })), ['schedule_overrides_end_idx']);
  });
});

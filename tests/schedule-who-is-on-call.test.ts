// SPEC sections 5 and 11: the look-up the escalation worker makes when it pages a level that
// names schedules (`whoIsOnCall`), inside the paging transaction: one statement for all the
// schedules and their overrides, the answer as of that moment (an edit or an override made
// before the level is paged changes who it pages), schedules in the order the level names them.
import { Kysely, PostgresDialect } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeChangeNotifier } from '../src/adapters/postgres/change-notifier.ts';
import { makePool } from '../src/adapters/postgres/database.ts';
import * as IcalFeedStore from '../src/adapters/postgres/ical-feed-store.ts';
import * as ScheduleOverrideStore from '../src/adapters/postgres/schedule-override-store.ts';
import * as ScheduleStore from '../src/adapters/postgres/schedule-store.ts';
import type { DB } from '../src/adapters/postgres/schema.ts';
import * as PolicyStore from '../src/adapters/postgres/escalation-policy-store.ts';
import * as IncidentStore from '../src/adapters/postgres/incident-store.ts';
import { makeReferences } from '../src/app/references.ts';
import * as TeamStore from '../src/adapters/postgres/team-store.ts';
import { changeFeed, makeTransact } from '../src/adapters/postgres/transact.ts';
import * as UserStore from '../src/adapters/postgres/user-store.ts';
import { makeScheduleUseCases } from '../src/app/schedule-use-cases.ts';
import { systemClock } from '../src/ports/clock.ts';
import { createUser } from './helpers/people.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

let t: TestApp;
let db: Kysely<DB>;
let statements = 0;
let useCases: ReturnType<typeof makeScheduleUseCases>;
let transact: ReturnType<typeof makeTransact>;
const u: Record<string, string> = {};
let weekly: string;
let nights: string;
const nobody = '00000000-0000-4000-8000-00000000dead';

beforeAll(async () => {
  t = await startTestApp({ env: { RATE_LIMIT_MAX: '100000' } });
  db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: makePool(t.databaseUrl, 4) }), log: (event) => void (/^\s*select/i.test(event.query.sql) && statements++) });
  transact = makeTransact(db, makeChangeNotifier(db, { debug: () => {} }));
  useCases = makeScheduleUseCases({
    transact, clock: systemClock, changes: changeFeed, schedules: ScheduleStore, overrides: ScheduleOverrideStore, feeds: IcalFeedStore, users: UserStore,
    references: makeReferences({ teams: TeamStore, users: UserStore, policies: PolicyStore, incidents: IncidentStore, schedules: ScheduleStore }),
    policies: PolicyStore,
  });
  for (const name of ['ann', 'bob', 'cy', 'dee']) u[name] = (await createUser(t, name)).id;
  const create = async (payload: Record<string, unknown>) => {
    const response = await t.call({ method: 'POST', url: '/v1/schedules', payload });
    expect(response.statusCode, response.body).toBe(201);
    return response.json().id as string;
  };
  weekly = await create({ name: 'weekly', time_zone: 'Europe/Berlin', layers: [{ name: 'l', user_ids: [u.ann, u.bob], start: '2026-03-23T09:00', turn: { count: 1, unit: 'week' } }] });
  nights = await create({
    name: 'nights', time_zone: 'Europe/Berlin',
    layers: [{ name: 'l', user_ids: [u.cy], start: '2026-03-23T09:00', turn: { count: 1, unit: 'week' }, restrictions: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '22:00', end: '06:00' }] }],
  });
});
afterAll(async () => {
  await db?.destroy();
  await t?.close();
});

const lookUp = (ids: string[], at: string) => transact((tx) => useCases.whoIsOnCall(tx, ids, new Date(at)));

describe('whoIsOnCall', () => {
  it('answers for every schedule named, in that order, once each, leaving out those that do not exist, in one statement', async () => {
    statements = 0;
    const answer = await lookUp([nights, nobody, weekly.toUpperCase(), nights], '2026-03-24T12:00:00Z');
    expect(statements).toBe(1); // BEGIN and COMMIT aside
    expect(answer).toEqual([
      { schedule_id: nights, user_ids: [] }, // 13:00 in Berlin: outside the night window
      { schedule_id: weekly, user_ids: [u.ann] },
    ]);
    expect(await lookUp([nights], '2026-03-24T21:00:00Z')).toEqual([{ schedule_id: nights, user_ids: [u.cy] }]);
    expect(await lookUp([], '2026-03-24T21:00:00Z')).toEqual([]);
  });

  it('follows the wall clock across the change: the Monday 09:00 handoff after it is at 07:00Z', async () => {
    expect(await lookUp([weekly], '2026-03-30T06:59:59.999Z')).toEqual([{ schedule_id: weekly, user_ids: [u.ann] }]);
    expect(await lookUp([weekly], '2026-03-30T07:00:00Z')).toEqual([{ schedule_id: weekly, user_ids: [u.bob] }]);
  });

  it('sees an override placed before the level is paged (start inclusive, end exclusive), and a replaced layer', async () => {
    const at = '2026-04-01T10:00:00Z';
    expect(await lookUp([weekly], at)).toEqual([{ schedule_id: weekly, user_ids: [u.bob] }]);
    const override = await useCases.addOverride('test', weekly, { user_id: u.dee!, start: new Date(at), end: new Date('2026-04-01T11:00:00Z') });
    expect(await lookUp([weekly], at)).toEqual([{ schedule_id: weekly, user_ids: [u.dee] }]);
    expect(await lookUp([weekly], '2026-04-01T11:00:00Z')).toEqual([{ schedule_id: weekly, user_ids: [u.bob] }]);
    // A later override over it wins where they overlap.
    await useCases.addOverride('test', weekly, { user_id: u.cy!, start: new Date('2026-04-01T09:30:00Z'), end: new Date('2026-04-01T10:30:00Z') });
    expect(await lookUp([weekly], at)).toEqual([{ schedule_id: weekly, user_ids: [u.cy] }]);
    await useCases.removeOverride(weekly, override.id);

    await useCases.replace(weekly, { name: 'weekly', time_zone: 'Europe/Berlin', layers: [{ name: 'l', user_ids: [u.dee!], start: '2026-03-23T09:00', turn: { count: 1, unit: 'day' } }] });
    expect(await lookUp([weekly], '2026-04-01T12:00:00Z')).toEqual([{ schedule_id: weekly, user_ids: [u.dee] }]);
  });

  it('runs inside the caller\'s transaction: a schedule deleted in it is gone for the look-up', async () => {
    const doomed = (await t.call({ method: 'POST', url: '/v1/schedules', payload: { name: 'doomed', time_zone: 'UTC', layers: [{ name: 'l', user_ids: [u.ann], start: '2026-01-01T00:00', turn: { count: 1, unit: 'week' } }] } })).json().id;
    const seen = await transact(async (tx) => {
      await ScheduleStore.deleteSchedule(tx, doomed);
      const inside = await useCases.whoIsOnCall(tx, [doomed], new Date('2026-02-01T00:00:00Z'));
      throw Object.assign(new Error('roll back'), { inside });
    }).catch((error: { inside: unknown }) => error.inside);
    expect(seen).toEqual([]);
    expect(await lookUp([doomed], '2026-02-01T00:00:00Z')).toEqual([{ schedule_id: doomed, user_ids: [u.ann] }]);
  });
});

// SPEC section 2: every documented list filter is served by an index. The lists' own queries (as
// the stores build them, captured through kysely's log) are EXPLAINed on tables of 60,000 rows
// where each filtered value is rare (1 row in 100; a search word 1 in 1,000): walking the newest-first index and filtering
// would then read the table, and only an index on the filtered column reads just a page. No
// timings are asserted.
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DB } from '../src/adapters/postgres/schema.ts';
import { listIncidents } from '../src/adapters/postgres/incident-store.ts';
import { listNotifications } from '../src/adapters/postgres/notification-store.ts';
import { listUsers } from '../src/adapters/postgres/user-store.ts';
import { readerOf } from '../src/adapters/postgres/transact.ts';
import { describePlan, queryPlanner, type PlanNode } from './helpers/query-plans.ts';
import { createTestDatabase } from './helpers/test-database.ts';

const ROWS = 60_000;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Kysely<DB>;
let planOf: ReturnType<typeof queryPlanner>['planOf'];
let genericPlanOf: ReturnType<typeof queryPlanner>['genericPlanOf'];

beforeAll(async () => {
  database = await createTestDatabase();
  ({ db, planOf, genericPlanOf } = queryPlanner(database.url));
  await sql`
    insert into incidents (title, severity, status, team_id, created_by, created_at)
    select case when i % 1000 = 7 then 'rare incident ' else 'incident ' end || i,
           case when i % 100 = 1 then 'P1' else (array['P2','P3','P4'])[1 + i % 3] end,
           case when i % 100 = 2 then 'acknowledged' else (array['open','resolved'])[1 + i % 2] end,
           case when i % 10 = 0 then gen_random_uuid() end,
           'test',
           now() - i * interval '1 second'
    from generate_series(1, ${ROWS}) as i`.execute(db);
  await sql`
    insert into notifications (id, channel, recipient, content, priority, status, max_retries, batch_id, incident_id, metadata, created_at, updated_at)
    select gen_random_uuid(),
           case when i % 100 = 1 then 'sms' else (array['email','push','webhook','slack'])[1 + i % 4] end,
           'r' || i, 'hello',
           case when i % 100 = 2 then 'high' else (array['normal','low'])[1 + i % 2] end,
           case when i % 100 = 3 then 'failed' else (array['queued','sent','cancelled'])[1 + i % 3] end,
           3,
           case when i % 100 = 0 then gen_random_uuid() end,
           null, '{}', now() - i * interval '1 second', now()
    from generate_series(1, ${ROWS}) as i`.execute(db);
  await sql`
    insert into users (name, email, time_zone, locale, preferences)
    select 'user ' || i, 'user' || i || '@example.com', 'UTC', 'en', '{}' from generate_series(1, 20000) as i`.execute(db);
  await sql`analyze incidents, notifications, users`.execute(db);
});
afterAll(async () => {
  await db?.destroy();
  await database?.drop();
});

function expectIndexed(plan: PlanNode[], table: string, index: string) {
  const described = describePlan(plan);
  expect(plan.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === table), described).toEqual([]);
  expect(plan.some((n) => n['Index Name'] === index), described).toBe(true);
}

const page = { limit: 50 };
const day = new Date(Date.now() - 3_600_000);

describe('every documented list filter uses an index (EXPLAIN on 60,000 rows)', () => {
  it.each([
    ['no filter', {}, 'incidents_created_idx'],
    ['status', { status: 'acknowledged' }, 'incidents_status_created_idx'],
    ['severity', { severity: 'P1' }, 'incidents_severity_created_idx'],
    ['team_id', { team_id: '8d4c8a8e-0000-4000-8000-000000000000' }, 'incidents_team_created_idx'],
    ['q', { q: 'rare' }, 'incidents_search_idx'],
    ['from', { from: day }, 'incidents_created_idx'],
  ] as const)('GET /v1/incidents by %s', async (_name, filter, index) => {
    expectIndexed(await planOf(() => listIncidents(readerOf(db), { ...page, ...filter })), 'incidents', index);
  });

  it.each([
    ['no filter', {}, 'notifications_created_idx'],
    ['status', { status: 'failed' }, 'notifications_unsent_status_created_idx'],
    // `sent` is left out of the status index: sent notifications are most of a real table, and a
    // third of this one, so the newest-first walk finds a page of them at once.
    ['status sent', { status: 'sent' }, 'notifications_created_idx'],
    ['channel', { channel: 'sms' }, 'notifications_channel_created_idx'],
    ['priority', { priority: 'high' }, 'notifications_uncommon_priority_created_idx'],
    // And `normal`, the default, out of the priority index.
    ['priority normal', { priority: 'normal' }, 'notifications_created_idx'],
    ['batch_id', { batch_id: '8d4c8a8e-0000-4000-8000-000000000000' }, 'notifications_batch_idx'],
    ['incident_id', { incident_id: '8d4c8a8e-0000-4000-8000-000000000000' }, 'notifications_incident_idx'],
    ['to', { to: day }, 'notifications_created_idx'],
  ] as const)('GET /v1/notifications by %s', async (_name, filter, index) => {
    expectIndexed(await planOf(() => listNotifications(readerOf(db), { ...page, ...filter })), 'notifications', index);
  });

  it('GET /v1/notifications by a rare status or priority uses the index that leaves the common value out, even in a generic plan', async () => {
    // The service prepares a statement it runs often, and PostgreSQL may then settle on one plan
    // for every value of its parameters. The status is written into the statement, so that plan
    // still knows the status is not `sent`; as a parameter, it could not use the partial index.
    expectIndexed(await genericPlanOf(() => listNotifications(readerOf(db), { ...page, status: 'failed' })), 'notifications', 'notifications_unsent_status_created_idx');
    expectIndexed(await genericPlanOf(() => listNotifications(readerOf(db), { ...page, priority: 'high' })), 'notifications', 'notifications_uncommon_priority_created_idx');
  });

  it('GET /v1/users by email', async () => {
    expectIndexed(await planOf(() => listUsers(readerOf(db), { ...page, email: 'USER77@example.com' })), 'users', 'users_email_idx');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHttpReceiver, type HttpReceiver } from './helpers/receivers.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

// SPEC sections 5 and 11: escalation levels that name on-call schedules page whoever is on call
// at the moment the level is paged (and again at each repeat); an override placed before a level
// is paged changes who it pages; a level that finds nobody is on the timeline and the next level
// is paged at once; a schedule that a level pages through cannot be deleted.

let t: TestApp;
let hook: HttpReceiver;

beforeAll(async () => {
  hook = await startHttpReceiver();
  t = await startTestApp({ role: 'all', env: { ALLOW_PRIVATE_TARGETS: 'true', RATE_LIMIT_MAX: '100000', RETRY_BACKOFF: '100ms' } });
});
afterAll(async () => {
  await t.close();
  await hook.close();
});

let counter = 0;
async function person(name: string) {
  const tag = `${name}-${++counter}-${Date.now()}`;
  const response = await t.call({
    method: 'POST',
    url: '/v1/users',
    payload: { name, email: `${tag}@example.com`, contact_methods: [{ type: 'webhook', address: `${hook.url}/u/${tag}` }] },
  });
  expect(response.statusCode, response.body).toBe(201);
  return { id: response.json().id as string, path: `/u/${tag}` };
}

const paged = (path: string) => hook.received.filter((r) => r.path === path && (JSON.parse(r.body) as { metadata: { event?: string } }).metadata.event === 'incident.page');

/** A schedule whose single layer has these users taking turns of `hours` from a day ago (so the first user's turn is over). */
async function schedule(userIds: string[], options: { hours?: number; restrictions?: unknown[] } = {}) {
  const start = new Date(Date.now() - 24 * 3600_000).toISOString().slice(0, 16);
  const response = await t.call({
    method: 'POST',
    url: '/v1/schedules',
    payload: { name: `rota ${++counter}`, time_zone: 'UTC', layers: [{ name: 'main', user_ids: userIds, start, turn: { count: options.hours ?? 48, unit: 'hour' }, ...(options.restrictions ? { restrictions: options.restrictions } : {}) }] },
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id as string;
}

async function teamPaging(levels: { delay_seconds: number; user_ids?: string[]; schedule_ids?: string[] }[]) {
  const policy = await t.call({ method: 'POST', url: '/v1/escalation-policies', payload: { name: 'through schedules', levels } });
  expect(policy.statusCode, policy.body).toBe(201);
  const team = await t.call({ method: 'POST', url: '/v1/teams', payload: { name: 'ops', escalation_policy_id: policy.json().id } });
  expect(team.statusCode, team.body).toBe(201);
  return { team: team.json().id as string, policy: policy.json() as { id: string; levels: { schedule_ids: string[] }[] } };
}

async function open(teamId: string) {
  const response = await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'Paging through schedules', team_id: teamId, severity: 'P1' } });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id as string;
}

const timeline = async (id: string) =>
  (await t.call({ method: 'GET', url: `/v1/incidents/${id}/events?limit=500` })).json().data as { type: string; data: Record<string, unknown> }[];

describe('escalation through on-call schedules', () => {
  it('pages whoever is on call when the level is paged, and says through which schedule', async () => {
    const [ann, bob] = [await person('ann'), await person('bob')];
    const rota = await schedule([ann.id, bob.id]); // 48 h turns from a day ago: ann is on call now
    const { team, policy } = await teamPaging([{ delay_seconds: 0, schedule_ids: [rota] }]);
    expect(policy.levels[0]!.schedule_ids).toEqual([rota]);
    const incident = await open(team);
    await eventually(() => paged(ann.path).length === 1 || undefined, 15_000, 'ann to be paged');
    expect(paged(bob.path)).toHaveLength(0);
    const entry = (await timeline(incident)).find((e) => e.type === 'escalation.paged')!;
    expect(entry.data).toMatchObject({ schedules: [{ schedule_id: rota, on_call: [ann.id] }], users: [{ user_id: ann.id, via: 'schedule', schedule_ids: [rota] }] });
  });

  it('an override placed before the next level is paged changes who that level pages', async () => {
    const [first, ann, cy] = [await person('first'), await person('ann'), await person('cy')];
    const rota = await schedule([ann.id]);
    const { team } = await teamPaging([{ delay_seconds: 0, user_ids: [first.id] }, { delay_seconds: 3, schedule_ids: [rota] }]);
    const incident = await open(team);
    await eventually(() => paged(first.path).length === 1 || undefined, 15_000, 'level 0 to page');
    // Before level 1 is due, cy takes over the rota for the next hour.
    const override = await t.call({
      method: 'POST',
      url: `/v1/schedules/${rota}/overrides`,
      payload: { user_id: cy.id, start: new Date(Date.now() - 60_000).toISOString(), end: new Date(Date.now() + 3600_000).toISOString() },
    });
    expect(override.statusCode, override.body).toBe(201);
    await eventually(() => paged(cy.path).length === 1 || undefined, 20_000, 'level 1 to page the override');
    expect(paged(ann.path)).toHaveLength(0);
    const scheduled = (await timeline(incident)).find((e) => e.type === 'escalation.scheduled')!;
    expect(scheduled.data).toMatchObject({ level: 1, schedule_ids: [rota] });
  });

  it('a level with nobody on call is recorded, and the next level is paged at once', async () => {
    const [ann, backup] = [await person('ann'), await person('backup')];
    // Only on call between 00:00 and 00:01 UTC: nobody is on call now (unless the test runs then).
    const now = new Date();
    const minute = now.getUTCHours() === 0 && now.getUTCMinutes() < 2 ? '12:00' : '00:00';
    const quiet = await schedule([ann.id], { restrictions: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: minute, end: minute.replace(':00', ':01') }] });
    const { team } = await teamPaging([{ delay_seconds: 0, schedule_ids: [quiet] }, { delay_seconds: 3600, user_ids: [backup.id] }]);
    const incident = await open(team);
    // Level 1's delay is an hour: it is paged at once only because level 0 found nobody.
    await eventually(() => paged(backup.path).length === 1 || undefined, 15_000, 'the next level to be paged at once');
    const types = (await timeline(incident)).map((e) => e.type);
    expect(types.indexOf('escalation.level_empty')).toBeGreaterThan(-1);
    expect(types.indexOf('escalation.level_empty')).toBeLessThan(types.lastIndexOf('escalation.paged'));
    expect(paged(ann.path)).toHaveLength(0);
  });

  it('refuses a level naming an unknown schedule, a level naming nobody, and deleting a schedule in use', async () => {
    const missing = '6b1f0c0e-0000-4000-8000-000000000000';
    const unknown = await t.call({ method: 'POST', url: '/v1/escalation-policies', payload: { name: 'x', levels: [{ delay_seconds: 0, schedule_ids: [missing] }] } });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().details).toEqual([{ field: 'body.levels.0.schedule_ids.0', message: 'refers to no schedule' }]);
    const nobody = await t.call({ method: 'POST', url: '/v1/escalation-policies', payload: { name: 'x', levels: [{ delay_seconds: 0 }] } });
    expect(nobody.statusCode).toBe(400);
    expect(nobody.json().details).toEqual([{ field: 'body.levels.0', message: 'names nobody: give user_ids, schedule_ids, or both' }]);

    const ann = await person('ann');
    const rota = await schedule([ann.id]);
    const { policy } = await teamPaging([{ delay_seconds: 0, schedule_ids: [rota] }]);
    const refused = await t.call({ method: 'DELETE', url: `/v1/schedules/${rota}` });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'SCHEDULE_IN_USE', details: { policy_ids: [policy.id] } });
    expect((await t.call({ method: 'GET', url: `/v1/schedules/${rota}` })).statusCode).toBe(200);
  });
});

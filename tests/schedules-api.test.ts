// SPEC section 11 over HTTP: schedules and their overrides as resources. Creating, reading,
// replacing and deleting (with ETags and If-Match, SPEC 2), validation naming each bad field,
// references to users and teams, pagination, overrides found by the window they overlap, scopes,
// Idempotency-Key, and the schedule.* changes appended to the feed (SPEC 7).
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTeam, createUser } from './helpers/people.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

let t: TestApp;
let ann: string;
let bob: string;
let cy: string;
let team: string;
const nobody = '00000000-0000-4000-8000-00000000dead';

beforeAll(async () => {
  t = await startTestApp({ env: { RATE_LIMIT_MAX: '100000' } });
  [ann, bob, cy] = [(await createUser(t, 'Ann')).id, (await createUser(t, 'Bob')).id, (await createUser(t, 'Cy')).id];
  team = await createTeam(t, 'Payments');
});
afterAll(async () => {
  await t?.close();
});

const weekly = (users: string[], more: Record<string, unknown> = {}) => ({
  name: 'primary', user_ids: users, start: '2026-03-23T09:00', turn: { count: 1, unit: 'week' }, ...more,
});
const body = (more: Record<string, unknown> = {}) => ({ name: 'Payments', time_zone: 'Europe/Berlin', layers: [weekly([ann, bob])], ...more });

async function create(payload: Record<string, unknown> = body()) {
  const response = await t.call({ method: 'POST', url: '/v1/schedules', payload });
  expect(response.statusCode, response.body).toBe(201);
  return response;
}

async function refused(method: 'POST' | 'PUT', url: string, payload: unknown, fields: string[]) {
  const response = await t.call({ method, url, payload: payload as Record<string, unknown> });
  expect(response.statusCode, response.body).toBe(400);
  expect(response.json().code).toBe('VALIDATION_ERROR');
  // A uuid is checked by format and by pattern, so a bad one may be named twice.
  expect([...new Set(response.json().details.map((d: { field: string }) => d.field))].sort()).toEqual([...fields].sort());
  return response.json();
}

const changesOf = async (type: string) =>
  (await sql<{ data: { id: string } }>`select data from changes where type = ${type} order by id`.execute(t.db)).rows.map((r) => r.data);

describe('a schedule as a resource', () => {
  it('is created with Location and ETag, read back as stored (ids in lower case, restrictions listed), and appends schedule.created', async () => {
    const restricted = weekly([ann, bob.toUpperCase(), ann], { name: 'business hours', restrictions: [{ days: ['mon', 'fri'], start: '09:00', end: '17:00' }] });
    const response = await create(body({ team_id: team.toUpperCase(), layers: [weekly([cy]), restricted] }));
    const schedule = response.json();
    expect(response.headers.location).toBe(`/v1/schedules/${schedule.id}`);
    expect(response.headers.etag).toBe('"1"');
    expect(schedule).toMatchObject({
      name: 'Payments',
      time_zone: 'Europe/Berlin',
      team_id: team,
      created_by: 'api_key:test admin',
      layers: [
        { name: 'primary', user_ids: [cy], start: '2026-03-23T09:00', turn: { count: 1, unit: 'week' }, restrictions: [] },
        { name: 'business hours', user_ids: [ann, bob, ann], restrictions: [{ days: ['mon', 'fri'], start: '09:00', end: '17:00' }] },
      ],
    });
    const got = await t.call({ method: 'GET', url: `/v1/schedules/${schedule.id}`, as: 'read' });
    expect(got.statusCode).toBe(200);
    expect(got.json()).toEqual(schedule);
    expect(got.headers.etag).toBe('"1"');
    expect((await t.call({ method: 'GET', url: `/v1/schedules/${schedule.id}`, headers: { 'if-none-match': '"1"' } })).statusCode).toBe(304);
    expect(await changesOf('schedule.created')).toContainEqual(schedule);
  });

  it('is replaced by PUT under If-Match (412 when stale), keeping its team unless team_id is given', async () => {
    const { id } = (await create(body({ team_id: team }))).json();
    const replacement = { name: 'Payments v2', time_zone: 'America/New_York', layers: [weekly([bob], { turn: { count: 2, unit: 'day' } })] };
    const put = await t.call({ method: 'PUT', url: `/v1/schedules/${id}`, payload: replacement, headers: { 'if-match': '"1"' } });
    expect(put.statusCode, put.body).toBe(200);
    expect(put.headers.etag).toBe('"2"');
    expect(put.json()).toMatchObject({ ...replacement, team_id: team });

    const stale = await t.call({ method: 'PUT', url: `/v1/schedules/${id}`, payload: body(), headers: { 'if-match': '"1"' } });
    expect(stale.statusCode).toBe(412);
    expect(stale.json()).toMatchObject({ code: 'PRECONDITION_FAILED', details: { current_etag: '"2"' } });
    expect((await t.call({ method: 'PUT', url: `/v1/schedules/${id}`, payload: body(), headers: { 'if-match': 'not-ours' } })).statusCode).toBe(412);

    const cleared = await t.call({ method: 'PUT', url: `/v1/schedules/${id}`, payload: body({ team_id: null }) });
    expect(cleared.json().team_id).toBeNull();
    expect((await changesOf('schedule.updated')).filter((s) => s.id === id)).toHaveLength(2);
    const missing = await t.call({ method: 'PUT', url: `/v1/schedules/${nobody}`, payload: body() });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('SCHEDULE_NOT_FOUND');
  });

  it('is deleted by an admin key only, with its overrides and feeds, appending schedule.deleted', async () => {
    const { id } = (await create()).json();
    expect((await t.call({ method: 'POST', url: `/v1/schedules/${id}/overrides`, payload: { user_id: cy, start: '2026-04-01T00:00:00Z', end: '2026-04-02T00:00:00Z' } })).statusCode).toBe(201);
    expect((await t.call({ method: 'POST', url: `/v1/schedules/${id}/ical-feeds` })).statusCode).toBe(201);
    expect((await t.call({ method: 'DELETE', url: `/v1/schedules/${id}`, as: 'write' })).statusCode).toBe(403);
    expect((await t.call({ method: 'DELETE', url: `/v1/schedules/${id}`, headers: { 'if-match': '"7"' } })).statusCode).toBe(412);
    expect((await t.call({ method: 'DELETE', url: `/v1/schedules/${id}` })).statusCode).toBe(204);
    expect((await t.call({ method: 'GET', url: `/v1/schedules/${id}` })).json().code).toBe('SCHEDULE_NOT_FOUND');
    expect((await t.call({ method: 'DELETE', url: `/v1/schedules/${id}` })).statusCode).toBe(404);
    const left = await sql<{ n: string }>`select (select count(*) from schedule_overrides where schedule_id = ${id}) + (select count(*) from schedule_ical_feeds where schedule_id = ${id}) as n`.execute(t.db);
    expect(Number(left.rows[0]!.n)).toBe(0);
    expect((await changesOf('schedule.deleted')).map((s) => s.id)).toContain(id);
  });

  it('is listed newest first, a page at a time, and by team', async () => {
    const other = await createTeam(t, 'Search');
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await create(body({ name: `listed ${i}`, team_id: other }))).json().id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const response = await t.call({ method: 'GET', url: `/v1/schedules?team_id=${other}&limit=2${cursor ? `&cursor=${cursor}` : ''}`, as: 'read' });
      expect(response.statusCode, response.body).toBe(200);
      const page = response.json();
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((s: { id: string }) => s.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...made].reverse());
    const all = (await t.call({ method: 'GET', url: '/v1/schedules?limit=500' })).json();
    expect(all.data.length).toBeGreaterThan(5);
    expect((await t.call({ method: 'GET', url: '/v1/schedules?cursor=bogus' })).statusCode).toBe(400);
    expect((await t.call({ method: 'GET', url: '/v1/schedules?limit=501' })).statusCode).toBe(400);
  });
});

describe('validation (SPEC 2: details name each bad field)', () => {
  it('refuses users and teams that do not exist, by their place in the body, creating nothing', async () => {
    const before = Number((await sql<{ n: string }>`select count(*) as n from schedules`.execute(t.db)).rows[0]!.n);
    await refused('POST', '/v1/schedules', body({ layers: [weekly([ann, bob, nobody]), weekly([nobody])], team_id: nobody }), [
      'body.team_id', 'body.layers.0.user_ids.2', 'body.layers.1.user_ids.0',
    ]);
    const { id } = (await create()).json();
    await refused('PUT', `/v1/schedules/${id}`, body({ layers: [weekly([cy]), weekly([ann, nobody])] }), ['body.layers.1.user_ids.1']);
    expect(Number((await sql<{ n: string }>`select count(*) as n from schedules`.execute(t.db)).rows[0]!.n)).toBe(before + 1);
  });

  it('refuses what the rules of SPEC 11 do not allow, each field named', async () => {
    await refused('POST', '/v1/schedules', body({ time_zone: 'Mars/Olympus_Mons' }), ['body.time_zone']);
    await refused('POST', '/v1/schedules', body({ time_zone: '+01:00' }), ['body.time_zone']);
    await refused('POST', '/v1/schedules', body({ layers: [] }), ['body.layers']);
    await refused('POST', '/v1/schedules', body({ layers: [weekly([ann], { start: '2026-02-30T09:00' })] }), ['body.layers.0.start']);
    await refused('POST', '/v1/schedules', body({ layers: [weekly([ann], { start: '2026-03-23 09:00' })] }), ['body.layers.0.start']);
    await refused('POST', '/v1/schedules', body({ layers: [weekly([ann], { turn: { count: 400, unit: 'day' } })] }), ['body.layers.0.turn.count']);
    await refused('POST', '/v1/schedules', body({ layers: [weekly([ann], { turn: { count: 1, unit: 'month' } })] }), ['body.layers.0.turn.unit']);
    await refused('POST', '/v1/schedules', body({ layers: [weekly([ann], { restrictions: [{ days: ['mon', 'mon'], start: '09:00', end: '17:00' }] })] }), [
      'body.layers.0.restrictions.0.days.1',
    ]);
    await refused('POST', '/v1/schedules', body({ layers: [weekly([ann], { restrictions: [{ days: ['mon'], start: '24:00', end: '17:00' }] })] }), [
      'body.layers.0.restrictions.0.start',
    ]);
    await refused('POST', '/v1/schedules', body({ layers: [weekly([ann], { colour: 'red' })] }), ['body.layers.0.colour']);
    await refused('POST', '/v1/schedules', body({ layers: [weekly(['not-a-uuid'])] }), ['body.layers.0.user_ids.0']);
    await refused('POST', '/v1/schedules', body({ name: ' ' }), ['body.name']);
    await refused('POST', '/v1/schedules', { name: 'x', layers: [weekly([ann])] }, ['body.time_zone']);
    await refused('POST', '/v1/schedules', body({ layers: Array.from({ length: 21 }, () => weekly([ann])) }), ['body.layers']);
  });

  it('answers 400 for a malformed id, 413 for a huge body and 415 for a body that is not JSON', async () => {
    expect((await t.call({ method: 'GET', url: '/v1/schedules/not-a-uuid' })).statusCode).toBe(400);
    const huge = await t.call({ method: 'POST', url: '/v1/schedules', payload: body({ name: 'x'.repeat(2 * 1024 * 1024) }) });
    expect(huge.statusCode).toBe(413);
    expect(huge.json().code).toBe('PAYLOAD_TOO_LARGE');
    const text = await t.call({ method: 'POST', url: '/v1/schedules', payload: 'name=x', headers: { 'content-type': 'text/plain' } });
    expect(text.statusCode).toBe(415);
    const broken = await t.call({ method: 'POST', url: '/v1/schedules', payload: '{"name":', headers: { 'content-type': 'application/json' } });
    expect(broken.statusCode).toBe(400);
  });
});

describe('overrides', () => {
  it('are added, listed by the window they overlap, a page at a time, and removed', async () => {
    const { id } = (await create()).json();
    const add = async (user: string, start: string, end: string) => {
      const response = await t.call({ method: 'POST', url: `/v1/schedules/${id}/overrides`, payload: { user_id: user, start, end } });
      expect(response.statusCode, response.body).toBe(201);
      return response.json();
    };
    const a = await add(cy, '2026-04-01T08:00:00Z', '2026-04-01T20:00:00Z');
    const b = await add(bob.toUpperCase(), '2026-04-01T12:00:00Z', '2026-04-03T00:00:00Z');
    const c = await add(ann, '2026-04-05T00:00:00+02:00', '2026-04-06T00:00:00+02:00');
    expect(b).toMatchObject({ schedule_id: id, user_id: bob, start: '2026-04-01T12:00:00.000Z', end: '2026-04-03T00:00:00.000Z', created_by: 'api_key:test admin' });
    expect(c.start).toBe('2026-04-04T22:00:00.000Z');
    // Created last wins, so creation times are strictly increasing however fast they come.
    expect(new Date(a.created_at) < new Date(b.created_at) && new Date(b.created_at) < new Date(c.created_at)).toBe(true);

    const list = async (query: string) => {
      const response = await t.call({ method: 'GET', url: `/v1/schedules/${id}/overrides${query}`, as: 'read' });
      expect(response.statusCode, response.body).toBe(200);
      return response.json();
    };
    const ids = async (query: string) => (await list(query)).data.map((o: { id: string }) => o.id);
    expect(await ids('')).toEqual([a.id, b.id, c.id]);
    // Overlapping a window: ends after since and starts before until (touching is not overlapping).
    expect(await ids('?since=2026-04-01T20:00:00Z&until=2026-04-04T22:00:00Z')).toEqual([b.id]);
    expect(await ids('?since=2026-04-01T19:59:59Z&until=2026-04-04T22:00:01Z')).toEqual([a.id, b.id, c.id]);
    expect(await ids('?until=2026-04-01T12:00:00Z')).toEqual([a.id]);
    expect(await ids('?since=2026-04-06T00:00:00Z')).toEqual([]);
    const first = await list('?limit=2');
    expect(first.data.map((o: { id: string }) => o.id)).toEqual([a.id, b.id]);
    expect(await ids(`?limit=2&cursor=${first.next_cursor}`)).toEqual([c.id]);
    expect((await t.call({ method: 'GET', url: `/v1/schedules/${id}/overrides?cursor=WzEsIngiXQ` })).statusCode).toBe(400);

    expect((await t.call({ method: 'DELETE', url: `/v1/schedules/${id}/overrides/${b.id}`, as: 'read' })).statusCode).toBe(403);
    expect((await t.call({ method: 'DELETE', url: `/v1/schedules/${id}/overrides/${b.id}`, as: 'write' })).statusCode).toBe(204);
    const again = await t.call({ method: 'DELETE', url: `/v1/schedules/${id}/overrides/${b.id}` });
    expect(again.json().code).toBe('OVERRIDE_NOT_FOUND');
    expect(await ids('')).toEqual([a.id, c.id]);
    expect((await changesOf('schedule_override.deleted')).map((o) => o.id)).toContain(b.id);
  });

  it('are refused with the field named: end not after start, an unknown user, a malformed instant; 404 for no schedule', async () => {
    const { id } = (await create()).json();
    const url = `/v1/schedules/${id}/overrides`;
    await refused('POST', url, { user_id: ann, start: '2026-04-01T08:00:00Z', end: '2026-04-01T08:00:00Z' }, ['body.end']);
    await refused('POST', url, { user_id: nobody, start: '2026-04-01T08:00:00Z', end: '2026-04-01T09:00:00Z' }, ['body.user_id']);
    await refused('POST', url, { user_id: ann, start: 'tomorrow', end: '2026-04-01T09:00:00Z' }, ['body.start']);
    await refused('POST', url, { user_id: ann, start: '2026-06-30T23:59:60Z', end: '2026-07-01T09:00:00Z' }, ['body.start']);
    const missing = await t.call({ method: 'POST', url: `/v1/schedules/${nobody}/overrides`, payload: { user_id: ann, start: '2026-04-01T08:00:00Z', end: '2026-04-01T09:00:00Z' } });
    expect(missing.json().code).toBe('SCHEDULE_NOT_FOUND');
    expect((await t.call({ method: 'GET', url: `/v1/schedules/${nobody}/overrides` })).json().code).toBe('SCHEDULE_NOT_FOUND');
    expect((await t.call({ method: 'GET', url: `${url}?since=yesterday` })).statusCode).toBe(400);
    const leap = await t.call({ method: 'GET', url: `${url}?until=2026-06-30T23:59:60Z` });
    expect(leap.json().details).toEqual([{ field: 'querystring.until', message: 'must be an ISO-8601 instant without a leap second' }]);
  });
});

describe('scopes and Idempotency-Key', () => {
  it('reads need read, writes need write; no key is 401', async () => {
    const { id } = (await create()).json();
    expect((await t.call({ method: 'GET', url: `/v1/schedules/${id}`, as: null })).statusCode).toBe(401);
    expect((await t.call({ method: 'POST', url: '/v1/schedules', payload: body(), as: 'read' })).statusCode).toBe(403);
    expect((await t.call({ method: 'PUT', url: `/v1/schedules/${id}`, payload: body(), as: 'read' })).statusCode).toBe(403);
    expect((await t.call({ method: 'POST', url: '/v1/schedules', payload: body(), as: 'write' })).statusCode).toBe(201);
    expect((await t.call({ method: 'POST', url: `/v1/schedules/${id}/ical-feeds`, as: 'read' })).statusCode).toBe(403);
    for (const path of ['on-call', 'final', 'gaps', 'overrides', 'ical-feeds']) {
      expect((await t.call({ method: 'GET', url: `/v1/schedules/${id}/${path}`, as: 'read' })).statusCode, path).toBe(200);
    }
  });

  it('replays a creating POST with the same key and body, and refuses another body under it', async () => {
    const key = { 'idempotency-key': 'schedule-once' };
    const first = await t.call({ method: 'POST', url: '/v1/schedules', payload: body({ name: 'once' }), headers: key });
    const again = await t.call({ method: 'POST', url: '/v1/schedules', payload: body({ name: 'once' }), headers: key });
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    expect(again.headers.location).toBe(first.headers.location);
    const other = await t.call({ method: 'POST', url: '/v1/schedules', payload: body({ name: 'twice' }), headers: key });
    expect(other.statusCode).toBe(409);
    const named = await sql<{ n: string }>`select count(*) as n from schedules where name in ('once', 'twice')`.execute(t.db);
    expect(Number(named.rows[0]!.n)).toBe(1);

    const id = first.json().id;
    const override = { user_id: ann, start: '2026-05-01T00:00:00Z', end: '2026-05-02T00:00:00Z' };
    const o1 = await t.call({ method: 'POST', url: `/v1/schedules/${id}/overrides`, payload: override, headers: { 'idempotency-key': 'o-once' } });
    const o2 = await t.call({ method: 'POST', url: `/v1/schedules/${id}/overrides`, payload: override, headers: { 'idempotency-key': 'o-once' } });
    expect(o2.headers['idempotent-replayed']).toBe('true');
    expect(o2.json().id).toBe(o1.json().id);
  });
});

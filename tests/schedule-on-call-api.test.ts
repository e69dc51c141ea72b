// SPEC section 11 over HTTP: on call at an instant, the final schedule of a window, its gaps and
// a user's shifts, for a realistic Europe/Berlin schedule across both 2026 daylight-saving
// changes. Each answer is checked against the pure domain functions run on the schedule and
// overrides as the API returns them (the database round trip must change nothing), and a few
// are pinned by hand so that both cannot be wrong together.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finalSchedule, onCallAt, scheduleGaps, userShifts } from '../src/domain/schedule-final.ts';
import type { ScheduleOverride, ScheduleRules } from '../src/domain/schedule.ts';
import { createUser } from './helpers/people.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

let t: TestApp;
const u: Record<string, string> = {};
let scheduleId: string;
const nobody = '00000000-0000-4000-8000-00000000dead';

async function post(url: string, payload: Record<string, unknown>) {
  const response = await t.call({ method: 'POST', url, payload });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

async function get(url: string) {
  const response = await t.call({ method: 'GET', url, as: 'read' });
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
}

beforeAll(async () => {
  t = await startTestApp({ env: { RATE_LIMIT_MAX: '100000' } });
  for (const name of ['ann', 'bob', 'cy', 'dee', 'eve', 'fay', 'gus']) u[name] = (await createUser(t, name)).id;
  scheduleId = (await post('/v1/schedules', {
    name: 'Payments',
    time_zone: 'Europe/Berlin',
    layers: [
      { name: 'primary', user_ids: [u.ann, u.bob, u.cy], start: '2026-01-05T09:00', turn: { count: 1, unit: 'week' } },
      {
        name: 'business hours', user_ids: [u.dee, u.eve], start: '2026-01-05T09:00', turn: { count: 1, unit: 'day' },
        restrictions: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }],
      },
      {
        name: 'nights', user_ids: [u.fay, u.gus], start: '2026-03-01T22:00', turn: { count: 12, unit: 'hour' },
        restrictions: [{ days: ['sat'], start: '22:00', end: '06:00' }],
      },
    ],
  })).id;
  // Across the spring change (29 Mar 01:00Z), and two that overlap: the later one wins.
  await post(`/v1/schedules/${scheduleId}/overrides`, { user_id: u.gus, start: '2026-03-28T23:00:00Z', end: '2026-03-29T03:00:00Z' });
  await post(`/v1/schedules/${scheduleId}/overrides`, { user_id: u.dee, start: '2026-10-24T12:00:00Z', end: '2026-10-25T12:00:00Z' });
  await post(`/v1/schedules/${scheduleId}/overrides`, { user_id: u.eve, start: '2026-10-25T00:00:00Z', end: '2026-10-25T02:00:00Z' });
});
afterAll(async () => {
  await t?.close();
});

/** The schedule and its overrides as the API gives them back, in the domain's shapes. */
async function stored(id = scheduleId): Promise<{ rules: ScheduleRules; overrides: ScheduleOverride[] }> {
  const schedule = await get(`/v1/schedules/${id}`);
  const overrides = (await get(`/v1/schedules/${id}/overrides?limit=500`)).data.map((o: Record<string, string>) => ({
    id: o.id, user_id: o.user_id, start: new Date(o.start!), end: new Date(o.end!), created_at: new Date(o.created_at!),
  }));
  return { rules: { time_zone: schedule.time_zone, layers: schedule.layers }, overrides };
}

const iso = (entries: { start: Date; end: Date; user_ids: string[] }[]) =>
  entries.map((e) => ({ start: e.start.toISOString(), end: e.end.toISOString(), user_ids: e.user_ids }));

const weeks = [
  ['2026-03-23T00:00:00.000Z', '2026-03-30T12:00:00.000Z'], // spring: 02:00 → 03:00 on Sunday 29 March
  ['2026-10-19T00:00:00.000Z', '2026-10-26T12:00:00.000Z'], // autumn: 03:00 → 02:00 on Sunday 25 October
] as const;

describe('the final schedule and its gaps', () => {
  it('are what the domain computes from the stored schedule, across both daylight-saving changes', async () => {
    const { rules, overrides } = await stored();
    for (const [since, until] of weeks) {
      const final = await get(`/v1/schedules/${scheduleId}/final?since=${since}&until=${until}`);
      expect(final).toEqual({ since, until, entries: iso(finalSchedule(rules, overrides, new Date(since), new Date(until))) });
      expect(final.entries.length).toBeGreaterThan(15);
      const gaps = await get(`/v1/schedules/${scheduleId}/gaps?since=${since}&until=${until}`);
      expect(gaps).toEqual({ since, until, entries: iso(scheduleGaps(rules, overrides, new Date(since), new Date(until))) });
    }
  });

  it('follow the wall clock by hand: the Monday 09:00 handoff is 08:00Z before the change and 07:00Z after it', async () => {
    const at = (instant: string) => get(`/v1/schedules/${scheduleId}/on-call?at=${instant}`);
    // 2026-01-05 starts ann; 16 Mar is week 10 (bob), 23 Mar week 11 (cy), 30 Mar week 12 (ann).
    expect((await at('2026-03-23T07:59:59Z')).user_ids).toEqual([u.bob]);
    expect((await at('2026-03-23T16:00:00Z')).user_ids).toEqual([u.cy]); // 17:00 CET, business hours over
    expect((await at('2026-03-30T15:00:00Z')).user_ids).toEqual([u.ann]); // 17:00 CEST
    expect(await at('2026-03-30T06:59:00Z')).toEqual({ at: '2026-03-30T06:59:00.000Z', user_ids: [u.cy], until: '2026-03-30T07:00:00.000Z' });
    // Business hours (09:00-17:00 local) win over the weekly layer on weekdays.
    expect((await at('2026-03-30T07:00:00Z')).user_ids).toHaveLength(1);
    expect([u.dee, u.eve]).toContain((await at('2026-03-30T07:00:00Z')).user_ids[0]);
    // The override across the change: gus from 00:00 to 05:00 Berlin time (three hours of clock).
    expect(await at('2026-03-29T01:30:00Z')).toEqual({ at: '2026-03-29T01:30:00.000Z', user_ids: [u.gus], until: '2026-03-29T03:00:00.000Z' });
    // Overlapping overrides: eve's was created after dee's, so eve is on call where both are.
    expect((await at('2026-10-25T01:00:00Z')).user_ids).toEqual([u.eve]);
    expect((await at('2026-10-25T02:00:00Z')).user_ids).toEqual([u.dee]);
  });

  it('keep to at most 93 x 24 hours, and default to a week from now', async () => {
    const since = '2026-03-01T00:00:00.000Z';
    const longest = new Date(Date.parse(since) + 93 * 86_400_000).toISOString();
    expect((await get(`/v1/schedules/${scheduleId}/final?since=${since}&until=${longest}`)).entries.at(-1).end).toBe(longest);
    const tooLong = new Date(Date.parse(longest) + 1).toISOString();
    for (const path of ['final', 'gaps']) {
      const response = await t.call({ method: 'GET', url: `/v1/schedules/${scheduleId}/${path}?since=${since}&until=${tooLong}` });
      expect(response.statusCode).toBe(400);
      expect(response.json().details).toEqual([{ field: 'querystring.until', message: 'must be at most 2232 hours after since' }]);
    }
    const backwards = await t.call({ method: 'GET', url: `/v1/schedules/${scheduleId}/final?since=${since}&until=${since}` });
    expect(backwards.json().details[0].field).toBe('querystring.until');
    const defaulted = await get(`/v1/schedules/${scheduleId}/final`);
    expect(Date.parse(defaulted.until) - Date.parse(defaulted.since)).toBe(7 * 86_400_000);
    expect(Math.abs(Date.parse(defaulted.since) - Date.now())).toBeLessThan(60_000);
  });
});

describe('on call at an instant', () => {
  it('is the entry of the final schedule holding it, with until its end', async () => {
    const { rules, overrides } = await stored();
    const instants = ['2026-03-28T22:59:59.999Z', '2026-03-29T00:59:00Z', '2026-03-29T01:00:00Z', '2026-03-29T03:00:00Z', '2026-10-25T00:30:00Z', '2026-10-25T01:30:00Z', '2026-07-01T12:00:00Z'];
    for (const instant of instants) {
      const expected = onCallAt(rules, overrides, new Date(instant));
      expect(await get(`/v1/schedules/${scheduleId}/on-call?at=${instant}`), instant).toEqual({
        at: new Date(instant).toISOString(), user_ids: expected.user_ids, until: expected.until?.toISOString() ?? null,
      });
      // `until` is where the final schedule starting at `at` first changes.
      const entries = (await get(`/v1/schedules/${scheduleId}/final?since=${instant}&until=${expected.until!.toISOString()}`)).entries;
      expect(entries).toHaveLength(1);
    }
    const now = await get(`/v1/schedules/${scheduleId}/on-call`);
    expect(Math.abs(Date.parse(now.at) - Date.now())).toBeLessThan(60_000);
  });

  it('has nobody before every layer starts, and a null until for one person on call for good', async () => {
    const alone = await post('/v1/schedules', { name: 'alone', time_zone: 'UTC', layers: [{ name: 'only', user_ids: [u.fay], start: '2026-01-01T00:00', turn: { count: 1, unit: 'week' } }] });
    expect(await get(`/v1/schedules/${alone.id}/on-call?at=2025-12-31T23:00:00Z`)).toEqual({ at: '2025-12-31T23:00:00.000Z', user_ids: [], until: '2026-01-01T00:00:00.000Z' });
    expect(await get(`/v1/schedules/${alone.id}/on-call?at=2026-06-01T00:00:00Z`)).toEqual({ at: '2026-06-01T00:00:00.000Z', user_ids: [u.fay], until: null });
  });
});

describe("a user's shifts", () => {
  it('are their runs in every schedule they appear in, by layer or by override only, in start order', async () => {
    const second = await post('/v1/schedules', { name: 'Search', time_zone: 'America/New_York', layers: [{ name: 'days', user_ids: [u.ann, u.fay], start: '2026-03-01T08:00', turn: { count: 1, unit: 'day' } }] });
    const third = await post('/v1/schedules', { name: 'Infra', time_zone: 'UTC', layers: [{ name: 'x', user_ids: [u.gus], start: '2026-01-01T00:00', turn: { count: 1, unit: 'week' } }] });
    await post(`/v1/schedules/${third.id}/overrides`, { user_id: u.ann, start: '2026-03-25T10:00:00Z', end: '2026-03-25T11:00:00Z' });
    const [since, until] = ['2026-03-23T00:00:00.000Z', '2026-03-31T00:00:00.000Z'];
    const expected = [];
    for (const id of [scheduleId, second.id, third.id]) {
      const { rules, overrides } = await stored(id);
      expected.push(...userShifts(rules, overrides, u.ann!, new Date(since), new Date(until)).map((s) => ({ schedule_id: id, start: s.start.toISOString(), end: s.end.toISOString() })));
    }
    expected.sort((a, b) => a.start.localeCompare(b.start) || a.schedule_id.localeCompare(b.schedule_id));
    const shifts = await get(`/v1/users/${u.ann}/shifts?since=${since}&until=${until}`);
    expect(shifts).toEqual({ since, until, data: expected });
    expect(new Set(shifts.data.map((s: { schedule_id: string }) => s.schedule_id))).toEqual(new Set([scheduleId, second.id, third.id]));
    expect(shifts.data).toContainEqual({ schedule_id: third.id, start: '2026-03-25T10:00:00.000Z', end: '2026-03-25T11:00:00.000Z' });
  });

  it('are empty for a user on call nowhere, 404 for no user, 400 past 93 days', async () => {
    const loner = (await createUser(t, 'Loner')).id;
    expect((await get(`/v1/users/${loner}/shifts?since=2026-03-01T00:00:00Z&until=2026-04-01T00:00:00Z`)).data).toEqual([]);
    const missing = await t.call({ method: 'GET', url: `/v1/users/${nobody}/shifts` });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('USER_NOT_FOUND');
    expect((await t.call({ method: 'GET', url: `/v1/users/${loner}/shifts?since=2026-01-01T00:00:00Z&until=2026-06-01T00:00:00Z` })).statusCode).toBe(400);
  });
});

describe('bad windows and instants', () => {
  it('are 4xx, never 500: malformed, leap seconds, unknown fields, and the ends of the calendar', async () => {
    const urls = [
      `/v1/schedules/${scheduleId}/final?since=yesterday`,
      `/v1/schedules/${scheduleId}/final?since=2026-06-30T23:59:60Z`,
      `/v1/schedules/${scheduleId}/gaps?until=2026-06-30T23:59:60Z&since=2026-06-30T00:00:00Z`,
      `/v1/schedules/${scheduleId}/on-call?at=2026-06-30T23:59:60Z`,
      `/v1/schedules/${scheduleId}/on-call?at=now`,
      `/v1/schedules/${scheduleId}/final?since=2026-01-01T00:00:00Z&since=2026-01-02T00:00:00Z`,
      `/v1/schedules/${scheduleId}/final?window=7d`,
      `/v1/users/${u.ann}/shifts?since=2026-13-01T00:00:00Z`,
    ];
    for (const url of urls) {
      const response = await t.call({ method: 'GET', url });
      expect(response.statusCode, `${url}: ${response.body}`).toBe(400);
      expect(response.json().code).toBe('VALIDATION_ERROR');
    }
    const edges = [
      `/v1/schedules/${scheduleId}/final?since=0001-01-01T00:00:00Z&until=0001-03-01T00:00:00Z`,
      `/v1/schedules/${scheduleId}/final?since=9999-12-01T00:00:00Z`,
      `/v1/schedules/${scheduleId}/on-call?at=9999-12-31T23:59:59Z`,
      `/v1/schedules/${scheduleId}/on-call?at=0001-01-01T00:00:00Z`,
      `/v1/users/${u.ann}/shifts?since=9999-12-01T00:00:00Z`,
      `/v1/users/${u.ann}/shifts?since=9999-12-31T00:00:00Z`,
    ];
    for (const url of edges) {
      const response = await t.call({ method: 'GET', url });
      expect(response.statusCode, `${url}: ${response.body}`).toBe(200);
    }
    // The last instant has no change after it that the API could write.
    expect((await get(`/v1/schedules/${scheduleId}/on-call?at=9999-12-31T23:59:59Z`)).until).toBeNull();
    expect((await get(`/v1/schedules/${scheduleId}/final?since=9999-12-31T00:00:00Z`)).until).toBe('9999-12-31T23:59:59.999Z');
    expect((await t.call({ method: 'GET', url: `/v1/schedules/${nobody}/final` })).json().code).toBe('SCHEDULE_NOT_FOUND');
    expect((await t.call({ method: 'GET', url: `/v1/schedules/${nobody}/on-call` })).json().code).toBe('SCHEDULE_NOT_FOUND');
  });
});

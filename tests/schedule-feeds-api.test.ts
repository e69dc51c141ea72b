// SPEC section 11: iCalendar feeds, fetched over real HTTP without a key, as a calendar
// application does, and parsed with ical.js (a maintained RFC 5545 parser) back to the shifts of
// the final schedule; revoked feeds answer 404; the token stays out of logs and spans (SPEC 2, 12).
import { Writable } from 'node:stream';
import ICAL from 'ical.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/adapters/free-port.ts';
import { redactServerUrl } from '../src/adapters/telemetry/span-urls.ts';
import { finalSchedule, userShifts } from '../src/domain/schedule-final.ts';
import type { ScheduleOverride, ScheduleRules } from '../src/domain/schedule.ts';
import { makeLogger, redactUrl } from '../src/logger.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

const DAY = 86_400_000;
const lines: string[] = [];
const capture = new Writable({
  write(chunk: Buffer, _encoding, callback) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    callback();
  },
});

let t: TestApp;
let origin: string;
const people: Record<string, { id: string; name: string }> = {};
let scheduleId: string;

beforeAll(async () => {
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  t = await startTestApp({ env: { RATE_LIMIT_MAX: '100000', PUBLIC_URL: `${origin}/`, INTAKE_RATE_LIMIT_PER_MINUTE: '30' }, logger: makeLogger('debug', capture) });
  await t.app.listen({ port, host: '127.0.0.1' });
  for (const name of ['Ann Lee', 'Bob; "the builder"', 'Cyrille Éloïse']) {
    const key = name.slice(0, 3).toLowerCase();
    const user = await t.call({ method: 'POST', url: '/v1/users', payload: { name, email: `${key}@example.com` } });
    expect(user.statusCode, user.body).toBe(201);
    people[key] = { id: user.json().id, name };
  }
  const [ann, bob, cyr] = [people.ann!.id, people.bob!.id, people.cyr!.id];
  const created = await t.call({
    method: 'POST',
    url: '/v1/schedules',
    payload: {
      name: 'Payments',
      time_zone: 'Europe/Berlin',
      layers: [
        { name: 'weekly', user_ids: [ann, bob], start: '2020-01-06T09:00', turn: { count: 1, unit: 'week' } },
        { name: 'weekends', user_ids: [cyr], start: '2020-01-06T09:00', turn: { count: 1, unit: 'week' }, restrictions: [{ days: ['sat'], start: '10:00', end: '18:00' }] },
      ],
    },
  });
  expect(created.statusCode, created.body).toBe(201);
  scheduleId = created.json().id;
  const soon = Math.floor(Date.now() / DAY) * DAY + 2 * DAY;
  const override = await t.call({
    method: 'POST',
    url: `/v1/schedules/${scheduleId}/overrides`,
    payload: { user_id: cyr, start: new Date(soon + 3_600_000).toISOString(), end: new Date(soon + 7 * 3_600_000).toISOString() },
  });
  expect(override.statusCode, override.body).toBe(201);
});
afterAll(async () => {
  await t?.close();
});

async function makeFeed(payload?: Record<string, unknown>): Promise<{ id: string; url: string }> {
  const response = await t.call({ method: 'POST', url: `/v1/schedules/${scheduleId}/ical-feeds`, ...(payload ? { payload } : {}) });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

function parse(text: string) {
  const calendar = new ICAL.Component(ICAL.parse(text));
  return {
    name: calendar.getFirstPropertyValue('x-wr-calname'),
    events: calendar.getAllSubcomponents('vevent').map((component) => {
      const event = new ICAL.Event(component);
      return { uid: event.uid, summary: event.summary, start: event.startDate.toJSDate().toISOString(), end: event.endDate.toJSDate().toISOString() };
    }),
  };
}

/** Fetches a feed as a calendar application does, with the window the server used. */
async function fetchFeed(url: string) {
  for (;;) {
    const before = Date.now();
    const response = await fetch(url);
    const after = Date.now();
    const since = Math.floor((before - 7 * DAY) / DAY) * DAY;
    // Fetched across a UTC midnight, the window's start is not known: fetch again.
    if (since !== Math.floor((after - 7 * DAY) / DAY) * DAY) continue;
    return { response, text: await response.text(), since, untilFrom: before + 90 * DAY, untilTo: after + 90 * DAY };
  }
}

async function stored(): Promise<{ rules: ScheduleRules; overrides: ScheduleOverride[] }> {
  const schedule = (await t.call({ method: 'GET', url: `/v1/schedules/${scheduleId}` })).json();
  const overrides = (await t.call({ method: 'GET', url: `/v1/schedules/${scheduleId}/overrides` })).json().data.map((o: Record<string, string>) => ({
    id: o.id, user_id: o.user_id, start: new Date(o.start!), end: new Date(o.end!), created_at: new Date(o.created_at!),
  }));
  return { rules: schedule, overrides };
}

/** The parsed events against the expected runs: the same, but for the last one's end, cut where the window ends. */
function expectSameRuns(events: ReturnType<typeof parse>['events'], runs: { start: Date; end: Date; user_ids: string[] }[], feed: { untilFrom: number; untilTo: number }) {
  const expected = runs.filter((r) => r.user_ids.length > 0);
  expect(events.length).toBe(expected.length);
  expect(events.length).toBeGreaterThan(10);
  const nameOf = (id: string) => Object.values(people).find((p) => p.id === id)!.name;
  events.forEach((event, i) => {
    const run = expected[i]!;
    expect(event.start).toBe(run.start.toISOString());
    expect(event.summary).toBe(`${nameOf(run.user_ids[0]!)} on call (Payments)`);
    if (i < events.length - 1) expect(event.end).toBe(run.end.toISOString());
    else expect(Date.parse(event.end)).toBeGreaterThanOrEqual(Math.min(run.end.getTime(), feed.untilFrom - 1000));
  });
  expect(Date.parse(events.at(-1)!.end)).toBeLessThanOrEqual(feed.untilTo);
}

describe('an iCalendar feed', () => {
  it('is fetched without a key and parses back to the final schedule, 7 days back to 90 ahead', async () => {
    const feed = await makeFeed();
    expect(feed.url).toMatch(new RegExp(`^${origin}/v1/ical-feeds/[A-Za-z0-9_-]{43}\\.ics$`));
    const fetched = await fetchFeed(feed.url);
    expect(fetched.response.status).toBe(200);
    expect(fetched.response.headers.get('content-type')).toBe('text/calendar; charset=utf-8');
    const { name, events } = parse(fetched.text);
    expect(name).toBe('Payments on call');
    const { rules, overrides } = await stored();
    const runs = finalSchedule(rules, overrides, new Date(fetched.since), new Date(fetched.untilTo));
    expectSameRuns(events, runs, fetched);
    // The override and the Saturday restriction both show.
    expect(events.some((e) => e.summary.startsWith('Cyrille'))).toBe(true);

    const again = parse((await fetchFeed(feed.url)).text).events;
    expect(again.map((e) => e.uid)).toEqual(events.map((e) => e.uid));
  });

  it("of one user holds that user's shifts only", async () => {
    const bob = people.bob!;
    const feed = await makeFeed({ user_id: bob.id });
    const fetched = await fetchFeed(feed.url);
    const { name, events } = parse(fetched.text);
    expect(name).toBe(`${bob.name}: Payments`);
    const { rules, overrides } = await stored();
    const shifts = userShifts(rules, overrides, bob.id, new Date(fetched.since), new Date(fetched.untilTo)).map((s) => ({ ...s, user_ids: [bob.id] }));
    expectSameRuns(events, shifts, fetched);
  });

  it('answers 404 once revoked, and for a token that never was; the other feeds still answer', async () => {
    const [kept, revoked] = [await makeFeed(), await makeFeed()];
    const list = (await t.call({ method: 'GET', url: `/v1/schedules/${scheduleId}/ical-feeds?limit=500`, as: 'read' })).json();
    expect(list.data.map((f: { id: string }) => f.id)).toEqual(expect.arrayContaining([kept.id, revoked.id]));
    expect(JSON.stringify(list)).not.toContain(new URL(revoked.url).pathname.split('/').at(-1)!.replace('.ics', ''));
    expect((await fetch(revoked.url)).status).toBe(200);
    expect((await t.call({ method: 'DELETE', url: `/v1/schedules/${scheduleId}/ical-feeds/${revoked.id}`, as: 'read' })).statusCode).toBe(403);
    expect((await t.call({ method: 'DELETE', url: `/v1/schedules/${scheduleId}/ical-feeds/${revoked.id}`, as: 'write' })).statusCode).toBe(204);
    const gone = await fetch(revoked.url);
    expect(gone.status).toBe(404);
    expect(await gone.json()).toMatchObject({ code: 'ICAL_FEED_NOT_FOUND' });
    expect((await fetch(`${origin}/v1/ical-feeds/${'x'.repeat(43)}.ics`)).status).toBe(404);
    expect((await fetch(kept.url)).status).toBe(200);
    expect((await t.call({ method: 'DELETE', url: `/v1/schedules/${scheduleId}/ical-feeds/${revoked.id}` })).json().code).toBe('ICAL_FEED_NOT_FOUND');
  });

  it('is refused for a user or a schedule that does not exist', async () => {
    const nobody = '00000000-0000-4000-8000-00000000dead';
    const noUser = await t.call({ method: 'POST', url: `/v1/schedules/${scheduleId}/ical-feeds`, payload: { user_id: nobody } });
    expect(noUser.statusCode).toBe(400);
    expect(noUser.json().details).toEqual([{ field: 'body.user_id', message: 'refers to no user' }]);
    expect((await t.call({ method: 'POST', url: `/v1/schedules/${nobody}/ical-feeds` })).json().code).toBe('SCHEDULE_NOT_FOUND');
    expect((await t.call({ method: 'POST', url: `/v1/schedules/${scheduleId}/ical-feeds`, payload: { colour: 'red' } })).statusCode).toBe(400);
  });

  it('is limited per feed, as an intake key is (INTAKE_RATE_LIMIT_PER_MINUTE)', async () => {
    const [busy, quiet] = [await makeFeed(), await makeFeed()];
    let limited: Response | undefined;
    for (let i = 0; i < 40 && !limited; i++) {
      const response = await fetch(busy.url);
      if (response.status === 429) limited = response;
      else expect(response.status).toBe(200);
    }
    expect(limited?.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await fetch(quiet.url)).status).toBe(200);
  });

  it('keeps its token out of the logs and out of span URLs', async () => {
    const feed = await makeFeed();
    const token = new URL(feed.url).pathname.split('/').at(-1)!.replace('.ics', '');
    await fetch(feed.url);
    await fetch(`${origin}/v1/ical-feeds/${token}`); // no .ics: no route, and the 404 message is logged
    await t.call({ method: 'DELETE', url: `/v1/schedules/${scheduleId}/ical-feeds/${feed.id}` });
    await fetch(feed.url); // revoked: a 404 whose message is logged
    const logged = lines.join('\n');
    expect(logged).toContain('/v1/ical-feeds/[redacted]');
    expect(logged).not.toContain(token);
    expect(redactUrl(`/v1/ical-feeds/${token}.ics?x=1`)).toBe('/v1/ical-feeds/[redacted]?x=1');
    expect(redactServerUrl(`${origin}/v1/ical-feeds/${token}.ics`)).toBe(`${origin}/v1/ical-feeds/[redacted]`);
    expect(redactServerUrl('/v1/schedules/abc/ical-feeds')).toBe('/v1/schedules/abc/ical-feeds');
  });
});

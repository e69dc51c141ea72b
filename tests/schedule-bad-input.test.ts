// SPEC section 2 for the routes of section 11, property-based: whatever a client sends as a
// schedule, an override, a feed or a window, the answer is a 2xx or a 4xx in the error shape,
// never a 500; a schedule that is accepted can always be computed; every route is in the
// OpenAPI document with its schemas.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from './helpers/people.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

let t: TestApp;
let users: string[];
let scheduleId: string;
const missing = '00000000-0000-4000-8000-000000000000';

beforeAll(async () => {
  t = await startTestApp({ env: { RATE_LIMIT_MAX: '1000000' } });
  users = [(await createUser(t, 'Ann')).id, (await createUser(t, 'Bob')).id];
  scheduleId = (await t.call({ method: 'POST', url: '/v1/schedules', payload: valid() })).json().id;
});
afterAll(async () => {
  await t?.close();
});

function valid(): Record<string, unknown> {
  return {
    name: 'Payments',
    time_zone: 'Europe/Berlin',
    layers: [{ name: 'primary', user_ids: [...users], start: '2026-03-23T09:00', turn: { count: 1, unit: 'week' }, restrictions: [{ days: ['mon'], start: '09:00', end: '17:00' }] }],
  };
}

async function send(options: Parameters<TestApp['call']>[0]) {
  const response = await t.call(options);
  const what = `${options.method} ${options.url} ${String(options.payload).slice(0, 300)} → ${response.statusCode} ${response.body.slice(0, 300)}`;
  expect(response.statusCode, what).toBeLessThan(500);
  if (response.statusCode >= 400) {
    const body = response.json();
    expect(Object.keys(body).every((k) => ['code', 'message', 'request_id', 'details'].includes(k)), what).toBe(true);
    expect(body.request_id, what).toBe(response.headers['x-request-id']);
  }
  return response;
}

const nasty = fc.oneof(
  fc.string(),
  fc.constantFrom('', ' ', 'a\u0000b', '\ud800', '\u{1F525}'.repeat(60), 'x'.repeat(201), '2026-02-29T09:00', '2026-03-29T02:30', '24:00', '23:60', '9:00', '2026-03-23T09:00:00', '+01:00', 'Europe/Nowhere', 'UTC', 'Etc/GMT+14', 'mon', 'Mon', 'hour', 'month'),
);
const weird: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  nasty,
  fc.constantFrom(null, true, [], {}, -1, 0, 1.5, 1e308, 8761, 366, 53, 2 ** 53, [null], ['mon', 'mon']),
  fc.uuid(),
);

/** Every place in a valid body where a weird value can go. */
const places = [
  'name', 'time_zone', 'team_id', 'layers', 'extra', 'layers.0', 'layers.0.name', 'layers.0.user_ids', 'layers.0.user_ids.0', 'layers.0.start',
  'layers.0.turn', 'layers.0.turn.count', 'layers.0.turn.unit', 'layers.0.restrictions', 'layers.0.restrictions.0', 'layers.0.restrictions.0.days',
  'layers.0.restrictions.0.days.0', 'layers.0.restrictions.0.start', 'layers.0.restrictions.0.end', 'layers.0.extra',
];

function put(body: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const keys = path.split('.');
  let at: Record<string, unknown> = body;
  for (const key of keys.slice(0, -1)) at = at[key] as Record<string, unknown>;
  at[keys.at(-1)!] = value;
  return body;
}

/** Mostly `usual`, sometimes `edge`: schedules near and across the edges of what is allowed. */
const mostly = <T>(usual: fc.Arbitrary<T>, edge: fc.Arbitrary<T>) => fc.oneof({ arbitrary: usual, weight: 9 }, { arbitrary: edge, weight: 1 });

const plausibleSchedule = fc.record({
  name: mostly(fc.constant('ops'), fc.constantFrom(' ', 'x'.repeat(200), 'x'.repeat(201))),
  time_zone: mostly(fc.constantFrom('UTC', 'Europe/Berlin', 'Pacific/Apia', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'America/Santiago'), fc.constant('Nowhere/Else')),
  layers: fc.array(fc.record({
    name: fc.constant('l'),
    start: mostly(
      fc.date({ min: new Date('1970-01-02T00:00Z'), max: new Date('2999-12-30T00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 16)),
      fc.constantFrom('1970-01-01T00:00', '2999-12-31T23:59', '2026-03-29T02:30', '2011-12-30T12:00', '2026-09-06T00:00', '1969-12-31T23:59', '3000-01-01T00:00'),
    ),
    turn: fc.oneof(
      fc.record({ count: mostly(fc.integer({ min: 1, max: 48 }), fc.constantFrom(0, 8760, 8761)), unit: fc.constant('hour') }),
      fc.record({ count: mostly(fc.integer({ min: 1, max: 14 }), fc.constantFrom(0, 365, 366)), unit: fc.constant('day') }),
      fc.record({ count: mostly(fc.integer({ min: 1, max: 4 }), fc.constantFrom(0, 52, 53)), unit: fc.constant('week') }),
    ),
    restrictions: fc.array(fc.record({
      days: fc.subarray(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], { minLength: 1 }),
      start: fc.constantFrom('00:00', '02:30', '09:00', '23:59'),
      end: fc.constantFrom('00:00', '02:30', '09:00', '17:00', '23:59'),
    }), { maxLength: 3 }),
  }), { minLength: 1, maxLength: 4 }),
});

/** Every UTF-8 byte escaped (encodeURIComponent throws on a lone surrogate). */
const percentEncoded = (text: string) => [...Buffer.from(text)].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');

const instantText = fc.oneof(
  fc.date({ min: new Date('0001-01-01T00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('2026-06-30T23:59:60Z', '2026-03-29T02:30:00+01:00', '2026-03-29', 'now', '', '9999-12-31T23:59:59.999Z', '0000-01-01T00:00:00Z', '2026-03-29T01:00:00.123456789Z'),
  nasty,
);

describe('schedule bodies', () => {
  it('with a weird value anywhere are refused with a 4xx, never a 500', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...places), weird, fc.constantFrom('POST', 'PUT'), async (place, value, method) => {
        const url = method === 'POST' ? '/v1/schedules' : `/v1/schedules/${scheduleId}`;
        const response = await send({ method, url, payload: JSON.stringify(put(valid(), place, value)), headers: { 'content-type': 'application/json' } });
        if (response.statusCode === 400) expect(response.json().details?.length ?? 1).toBeGreaterThan(0);
      }),
      { numRuns: 150 },
    );
  });

  it('that are accepted can always be computed: final, gaps and on-call answer 200', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(plausibleSchedule, fc.date({ min: new Date('1965-01-01T00:00Z'), max: new Date('3000-01-01T00:00Z'), noInvalidDate: true }), async (schedule, since) => {
        const body = { ...schedule, layers: schedule.layers.map((l, i) => ({ ...l, user_ids: [users[i % 2]!, users[(i + 1) % 2]!] })) };
        const created = await send({ method: 'POST', url: '/v1/schedules', payload: body });
        if (created.statusCode !== 201) {
          expect(created.statusCode).toBe(400);
          return;
        }
        accepted++;
        const id = created.json().id;
        const until = new Date(since.getTime() + 93 * 86_400_000).toISOString();
        for (const url of [`/v1/schedules/${id}/final?since=${since.toISOString()}&until=${until}`, `/v1/schedules/${id}/gaps?since=${since.toISOString()}`, `/v1/schedules/${id}/on-call?at=${since.toISOString()}`]) {
          expect((await send({ method: 'GET', url })).statusCode, url).toBe(200);
        }
        expect((await send({ method: 'DELETE', url: `/v1/schedules/${id}` })).statusCode).toBe(204);
      }),
      { numRuns: 60 },
    );
    // The generator is not so hostile that nothing gets through.
    expect(accepted).toBeGreaterThan(20);
  });
});

describe('overrides, feeds and windows', () => {
  it('weird override and feed bodies are 4xx, never 500', async () => {
    const override = { user_id: users[0], start: '2026-04-01T00:00:00Z', end: '2026-04-02T00:00:00Z' };
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('user_id', 'start', 'end', 'extra'), weird, fc.boolean(), async (field, value, feed) => {
        const url = feed ? `/v1/schedules/${scheduleId}/ical-feeds` : `/v1/schedules/${scheduleId}/overrides`;
        const payload = feed ? { [field === 'user_id' ? 'user_id' : field]: value } : { ...override, [field]: value };
        await send({ method: 'POST', url, payload: JSON.stringify(payload), headers: { 'content-type': 'application/json' } });
      }),
      { numRuns: 120 },
    );
  });

  it('weird windows, instants and cursors are 4xx, never 500', async () => {
    const paths = [`/v1/schedules/${scheduleId}/final`, `/v1/schedules/${scheduleId}/gaps`, `/v1/schedules/${scheduleId}/overrides`, `/v1/users/${users[0]}/shifts`, `/v1/schedules/${scheduleId}/on-call`];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), instantText, fc.option(instantText), fc.option(nasty), async (path, first, second, cursor) => {
        const query = new URLSearchParams(path.endsWith('on-call') ? { at: first } : { since: first, ...(second === null ? {} : { until: second }) });
        if (cursor !== null && path.endsWith('overrides')) query.set('cursor', cursor);
        await send({ method: 'GET', url: `${path}?${query}` });
      }),
      { numRuns: 150 },
    );
  });

  it('weird feed URLs are 400, 404 or 414 (a path parameter over 100 characters), never 500', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(nasty.map(percentEncoded), fc.constantFrom('%zz', '%E0%A4%A', '..%2F..', '%00', 'a.b.c')), async (token) => {
        const response = await send({ method: 'GET', url: `/v1/ical-feeds/${token}.ics`, as: null });
        expect([400, 404, 414]).toContain(response.statusCode);
      }),
      { numRuns: 60 },
    );
  });
});

describe('the OpenAPI document', () => {
  it('holds every schedule route with its params, query, body and responses', async () => {
    const document = (await t.call({ method: 'GET', url: '/openapi.json', as: null })).json();
    const operations: [string, string, string[]][] = [
      ['/v1/schedules', 'post', ['201', '400']], ['/v1/schedules', 'get', ['200']],
      ['/v1/schedules/{id}', 'get', ['200', '304', '404']], ['/v1/schedules/{id}', 'put', ['200', '412']], ['/v1/schedules/{id}', 'delete', ['204', '403']],
      ['/v1/schedules/{id}/overrides', 'post', ['201']], ['/v1/schedules/{id}/overrides', 'get', ['200']],
      ['/v1/schedules/{id}/overrides/{override_id}', 'delete', ['204']],
      ['/v1/schedules/{id}/on-call', 'get', ['200']], ['/v1/schedules/{id}/final', 'get', ['200', '400']], ['/v1/schedules/{id}/gaps', 'get', ['200']],
      ['/v1/users/{id}/shifts', 'get', ['200', '404']],
      ['/v1/schedules/{id}/ical-feeds', 'post', ['201']], ['/v1/schedules/{id}/ical-feeds', 'get', ['200']],
      ['/v1/schedules/{id}/ical-feeds/{feed_id}', 'delete', ['204']], ['/v1/ical-feeds/{token}.ics', 'get', ['200', '404', '429']],
    ];
    for (const [path, method, statuses] of operations) {
      const operation = document.paths[path]?.[method];
      expect(operation, `${method} ${path}`).toBeDefined();
      for (const status of statuses) expect(operation.responses[status], `${method} ${path} ${status}`).toBeDefined();
      if (path.includes('{')) expect(operation.parameters.some((p: { in: string }) => p.in === 'path'), `${method} ${path} params`).toBe(true);
      if (method === 'post' || method === 'put') expect(operation.requestBody, `${method} ${path} body`).toBeDefined();
    }
    expect(document.paths['/v1/schedules/{id}/final'].get.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['since', 'until']));
    expect(document.paths['/v1/ical-feeds/{token}.ics'].get.security).toEqual([]);
  });
});

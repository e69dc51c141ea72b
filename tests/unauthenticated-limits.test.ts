// SPEC section 2: writes without a valid key are limited per client address before
// authentication, intake endpoints per key, and TRUST_PROXY decides what the client address is.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

let first: TestApp;
let second: TestApp;
beforeAll(async () => {
  // Windows start at a key's first request (not on the clock), so nothing here can straddle one.
  const env = { RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW_SECONDS: '3600' };
  first = await startTestApp({ env });
  second = await startTestApp({ env, shareDatabaseOf: first });
});
afterAll(async () => {
  await second?.close();
  await first?.close();
});

const open = (app: TestApp, ip: string, authorization: string | null) =>
  app.app.inject({
    method: 'POST',
    url: '/v1/incidents',
    remoteAddress: ip,
    payload: { title: 'from an address' },
    headers: authorization ? { authorization } : {},
  });

describe('requests without a valid key, per client address (SPEC section 2)', () => {
  it('counts 401s across two API processes and answers 429 before authentication, even to a valid key', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await open(i % 2 ? first : second, '10.2.0.1', `Bearer tsn_guess_${i}`)).statusCode);
    // Exactly the budget, less at most one reserved block (1 here) left unspent in one process.
    const unauthorized = statuses.filter((s) => s === 401).length;
    expect(unauthorized, statuses.join(',')).toBeLessThanOrEqual(5);
    expect(unauthorized, statuses.join(',')).toBeGreaterThanOrEqual(4);
    expect(statuses.slice(-4)).toEqual([429, 429, 429, 429]);

    const refused = await open(first, '10.2.0.1', `Bearer ${first.keys.write}`);
    expect(refused.statusCode, 'checked before the valid key is even looked at').toBe(429);
    expect(refused.json()).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', request_id: refused.headers['x-request-id'] });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(3600);

    // Another address is not held back, and reads are not part of this budget.
    expect((await open(second, '10.2.0.2', `Bearer ${first.keys.write}`)).statusCode).toBe(201);
    expect((await first.app.inject({ method: 'GET', url: '/v1/incidents', remoteAddress: '10.2.0.1', headers: { authorization: 'Bearer nope' } })).statusCode).toBe(401);
  });

  it('spends nothing on requests with a valid key', async () => {
    // The per-key budget is 5 too: four accepted writes, then five bad keys are all still 401.
    for (let i = 0; i < 4; i++) expect((await open(first, '10.2.0.3', `Bearer ${first.keys.write}`)).statusCode).toBe(201);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await open(first, '10.2.0.3', null)).statusCode);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it('counts intake requests with an unknown key (404) against the address, on every intake endpoint', async () => {
    const ip = '10.2.0.4';
    const guesses = [
      () => first.app.inject({ method: 'POST', url: '/v2/enqueue', remoteAddress: ip, payload: { routing_key: 'guess-1', event_action: 'resolve', dedup_key: 'x' } }),
      () => first.app.inject({ method: 'POST', url: '/v1/integrations/guess-2/alertmanager', remoteAddress: ip, payload: { groupKey: 'g', status: 'firing', alerts: [] } }),
      () => first.app.inject({ method: 'GET', url: '/v1/heartbeats/guess-3/ping', remoteAddress: ip }),
      () => first.app.inject({ method: 'POST', url: '/v1/heartbeats/guess-4/ping', remoteAddress: ip }),
      () => first.app.inject({ method: 'GET', url: '/v1/heartbeats/guess-5/ping', remoteAddress: ip }),
    ];
    for (const guess of guesses) expect((await guess()).statusCode).toBe(404);
    const refused = await first.app.inject({ method: 'POST', url: '/v2/enqueue', remoteAddress: ip, payload: { routing_key: 'guess-6', event_action: 'resolve', dedup_key: 'x' } });
    expect(refused.statusCode).toBe(429);
    // /v2/enqueue answers in PagerDuty's shape, whatever refused it.
    expect(refused.json()).toMatchObject({ status: 'throttle event', code: 'RATE_LIMIT_EXCEEDED' });
    expect(refused.headers['retry-after']).toBeDefined();
    expect((await first.app.inject({ method: 'GET', url: '/v1/heartbeats/guess-7/ping', remoteAddress: ip })).statusCode).toBe(429);
  });
});

describe('intake per key: an Alertmanager storm does not starve another key behind the same address', () => {
  it('refuses the flooded key only', async () => {
    const app = await startTestApp({ env: { INTAKE_RATE_LIMIT_PER_MINUTE: '4' }, shareDatabaseOf: first });
    try {
      const make = async (name: string) => (await app.call({ method: 'POST', url: '/v1/integrations', payload: { type: 'alertmanager', name } })).json().url as string;
      const [stormy, calm] = [await make('stormy'), await make('calm')];
      const body = (groupKey: string) => ({ groupKey, status: 'resolved', alerts: [] });
      const send = (url: string, i: number) => app.app.inject({ method: 'POST', url, remoteAddress: '192.0.2.10', payload: body(`g${i}`) });
      const storm = await Promise.all(Array.from({ length: 12 }, (_, i) => send(stormy, i)));
      expect(storm.filter((r) => r.statusCode === 200), storm.map((r) => r.body).join('\n')).toHaveLength(4);
      expect(storm.filter((r) => r.statusCode === 429)).toHaveLength(8);
      for (const r of storm.filter((r) => r.statusCode === 429)) expect(r.json().code).toBe('RATE_LIMIT_EXCEEDED');
      for (let i = 0; i < 4; i++) expect((await send(calm, i)).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe('TRUST_PROXY (SPEC section 1)', () => {
  const guess = (app: TestApp, proxy: string, forwardedFor: string) =>
    app.app.inject({ method: 'POST', url: '/v1/incidents', remoteAddress: proxy, headers: { 'x-forwarded-for': forwardedFor }, payload: { title: 'x' } });

  async function statusesAfterBudget(app: TestApp, proxy: string, spend: string, then: string) {
    for (let i = 0; i < 3; i++) expect((await guess(app, proxy, spend)).statusCode).toBe(401);
    return [(await guess(app, proxy, spend)).statusCode, (await guess(app, proxy, then)).statusCode];
  }

  it('false (the default): X-Forwarded-For is ignored, the proxy is the client', async () => {
    const app = await startTestApp({ env: { RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_SECONDS: '3600' }, shareDatabaseOf: first });
    try {
      expect(await statusesAfterBudget(app, '10.3.0.1', '203.0.113.1', '203.0.113.2')).toEqual([429, 429]);
    } finally {
      await app.close();
    }
  });

  it('a list of CIDRs: clients behind a trusted proxy have budgets of their own', async () => {
    const app = await startTestApp({ env: { RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_SECONDS: '3600', TRUST_PROXY: '10.4.0.0/16' }, shareDatabaseOf: first });
    try {
      expect(await statusesAfterBudget(app, '10.4.0.1', '203.0.113.11', '203.0.113.12')).toEqual([429, 401]);
      // A proxy outside the list is not believed.
      expect(await statusesAfterBudget(app, '10.5.0.1', '203.0.113.13', '203.0.113.14')).toEqual([429, 429]);
    } finally {
      await app.close();
    }
  });

  it('a hop count: only the nearest proxies are believed, so a forged first entry changes nothing', async () => {
    const app = await startTestApp({ env: { RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_SECONDS: '3600', TRUST_PROXY: '1' }, shareDatabaseOf: first });
    try {
      expect(await statusesAfterBudget(app, '10.6.0.1', 'forged-1, 203.0.113.21', 'forged-2, 203.0.113.21')).toEqual([429, 429]);
      expect((await guess(app, '10.6.0.1', 'forged-3, 203.0.113.22')).statusCode).toBe(401);
    } finally {
      await app.close();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

let first: TestApp;
let second: TestApp;
beforeAll(async () => {
  // A long window, so the test never straddles a window boundary by accident.
  const env = { RATE_LIMIT_MAX: '6', RATE_LIMIT_WINDOW_SECONDS: '3600' };
  first = await startTestApp({ env });
  second = await startTestApp({ env, shareDatabaseOf: first });
});
afterAll(async () => {
  await second.close();
  await first.close();
});

describe('write rate limits (SPEC section 2)', () => {
  it('holds across two API processes, per API key, with Retry-After; reads are not limited', async () => {
    const post = (app: TestApp, as: 'write' | 'admin') =>
      app.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'limited' }, as });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await post(first, 'write')).statusCode);
      statuses.push((await post(second, 'write')).statusCode);
    }
    expect(statuses.filter((s) => s === 201)).toHaveLength(6);
    expect(statuses.slice(6)).toEqual([429, 429]);

    const limited = await post(second, 'write');
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED' });
    expect(limited.json().request_id).toBe(limited.headers['x-request-id']);
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(3600);

    // Another key has its own budget; reads are never limited.
    expect((await post(first, 'admin')).statusCode).toBe(201);
    for (let i = 0; i < 10; i++) {
      expect((await first.call({ method: 'GET', url: '/v1/incidents', as: 'write' })).statusCode).toBe(200);
    }
  });

  it('never lets more than the limit through when both processes spend reserved blocks concurrently', async () => {
    // RATE_LIMIT_MAX=6 reserves one request at a time; a larger limit reserves blocks of max/20.
    const env = { RATE_LIMIT_MAX: '40', RATE_LIMIT_WINDOW_SECONDS: '3600' };
    const a = await startTestApp({ env });
    const b = await startTestApp({ env, shareDatabaseOf: a });
    try {
      const responses = await Promise.all(
        Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).call({ method: 'POST', url: '/v1/incidents', payload: { title: `burst ${i}` }, as: 'write' })),
      );
      const admitted = responses.filter((r) => r.statusCode === 201).length;
      expect(admitted).toBeLessThanOrEqual(40);
      // At most one unspent block (40/20 = 2) per process is left over at the end.
      expect(admitted).toBeGreaterThanOrEqual(36);
      expect(responses.filter((r) => r.statusCode === 429)).toHaveLength(60 - admitted);
    } finally {
      await b.close();
      await a.close();
    }
  });
});

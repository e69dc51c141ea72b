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
});

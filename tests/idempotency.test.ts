import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { deleteExpiredIdempotencyKeys } from '../src/adapters/postgres/idempotency-store.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ env: { RATE_LIMIT_MAX: '100000' } });
});
afterAll(async () => {
  await t.close();
});

const countTitled = async (title: string) =>
  Number((await t.db.selectFrom('incidents').select((eb) => eb.fn.countAll<string>().as('n')).where('title', '=', title).executeTakeFirstOrThrow()).n);

describe('Idempotency-Key (SPEC section 2)', () => {
  it('replays the original status and body for the same key and body', async () => {
    const payload = { title: 'idem same body', severity: 'P2' };
    const first = await t.call({ method: 'POST', url: '/v1/incidents', payload, headers: { 'idempotency-key': 'k-same' } });
    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();

    // Same JSON with keys in another order is the same request.
    const again = await t.call({
      method: 'POST',
      url: '/v1/incidents',
      payload: { severity: 'P2', title: 'idem same body' },
      headers: { 'idempotency-key': 'k-same' },
    });
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    expect(again.headers.location).toBe(first.headers.location);
    expect(await countTitled('idem same body')).toBe(1);
  });

  it('accepts X-Idempotency-Key as an alias', async () => {
    const payload = { title: 'idem alias' };
    const first = await t.call({ method: 'POST', url: '/v1/incidents', payload, headers: { 'x-idempotency-key': 'k-alias' } });
    const again = await t.call({ method: 'POST', url: '/v1/incidents', payload, headers: { 'idempotency-key': 'k-alias' } });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json().id).toBe(first.json().id);
  });

  it('answers 409 IDEMPOTENCY_KEY_CONFLICT for the same key with another body, creating nothing', async () => {
    await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'idem conflict A' }, headers: { 'idempotency-key': 'k-conflict' } });
    const other = await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'idem conflict B' }, headers: { 'idempotency-key': 'k-conflict' } });
    expect(other.statusCode).toBe(409);
    expect(other.json().code).toBe('IDEMPOTENCY_KEY_CONFLICT');
    expect(await countTitled('idem conflict B')).toBe(0);
  });

  it('scopes keys to the API key', async () => {
    const payload = { title: 'idem scoped' };
    const asAdmin = await t.call({ method: 'POST', url: '/v1/incidents', payload, headers: { 'idempotency-key': 'k-scope' } });
    const asWriter = await t.call({ method: 'POST', url: '/v1/incidents', payload, headers: { 'idempotency-key': 'k-scope' }, as: 'write' });
    expect(asWriter.statusCode).toBe(201);
    expect(asWriter.headers['idempotent-replayed']).toBeUndefined();
    expect(asWriter.json().id).not.toBe(asAdmin.json().id);
  });

  it('creates exactly one incident from ten concurrent duplicates', async () => {
    const payload = { title: 'idem concurrent', severity: 'P1' };
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => t.call({ method: 'POST', url: '/v1/incidents', payload, headers: { 'idempotency-key': 'k-race' } })),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(10).fill(201));
    expect(new Set(responses.map((r) => r.json().id)).size).toBe(1);
    expect(responses.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(9);
    expect(await countTitled('idem concurrent')).toBe(1);
  });

  it('does not keep the key when the request fails, so a corrected retry goes through', async () => {
    const bad = await t.call({
      method: 'POST',
      url: '/v1/incidents/00000000-0000-4000-8000-000000000000/comments',
      payload: { body: 'hello' },
      headers: { 'idempotency-key': 'k-failed' },
    });
    expect(bad.statusCode).toBe(404);
    const incident = (await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'idem after failure' } })).json();
    const good = await t.call({
      method: 'POST',
      url: `/v1/incidents/${incident.id}/comments`,
      payload: { body: 'hello' },
      headers: { 'idempotency-key': 'k-failed' },
    });
    expect(good.statusCode).toBe(201);
  });

  it('expires keys: an expired key is reused as new, and the cleanup job deletes old records', async () => {
    const payload = { title: 'idem expiry' };
    const first = await t.call({ method: 'POST', url: '/v1/incidents', payload, headers: { 'idempotency-key': 'k-expire' } });
    await t.db.updateTable('idempotency_keys').set({ expires_at: sql`now() - interval '1 second'` }).where('key', '=', 'k-expire').execute();
    const second = await t.call({ method: 'POST', url: '/v1/incidents', payload, headers: { 'idempotency-key': 'k-expire' } });
    expect(second.statusCode).toBe(201);
    expect(second.headers['idempotent-replayed']).toBeUndefined();
    expect(second.json().id).not.toBe(first.json().id);

    await t.db.updateTable('idempotency_keys').set({ expires_at: sql`now() - interval '1 second'` }).where('key', '=', 'k-expire').execute();
    expect(await deleteExpiredIdempotencyKeys(t.db)).toBeGreaterThanOrEqual(1);
    const left = await t.db.selectFrom('idempotency_keys').select('key').where('key', '=', 'k-expire').execute();
    expect(left).toEqual([]);
  });

  it('refuses a malformed key with 400', async () => {
    const response = await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'x' }, headers: { 'idempotency-key': 'has space' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('VALIDATION_ERROR');
  });
});

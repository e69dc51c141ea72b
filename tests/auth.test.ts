import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

let t: TestApp;
const bootstrapKey = 'bootstrap-admin-key-for-tests';
beforeAll(async () => {
  t = await startTestApp({ env: { ADMIN_API_KEY: bootstrapKey } });
});
afterAll(async () => {
  await t.close();
});

describe('API keys and scopes (SPEC section 2)', () => {
  it('401 UNAUTHORIZED without a key, with a malformed header, or with an unknown key', async () => {
    for (const authorization of [undefined, 'Basic abc', 'Bearer', 'Bearer tsn_not_a_real_key']) {
      const response = await t.call({ method: 'GET', url: '/v1/incidents', as: null, headers: authorization ? { authorization } : {} });
      expect(response.statusCode, String(authorization)).toBe(401);
      expect(response.json().code).toBe('UNAUTHORIZED');
    }
  });

  it('403 FORBIDDEN when the scope is too small; larger scopes include smaller ones', async () => {
    const post = { method: 'POST' as const, url: '/v1/incidents', payload: { title: 'scoped' } };
    expect((await t.call({ ...post, as: 'read' })).statusCode).toBe(403);
    const created = await t.call({ ...post, as: 'write' });
    expect(created.statusCode).toBe(201);
    expect((await t.call({ method: 'GET', url: '/v1/incidents', as: 'read' })).statusCode).toBe(200);
    expect((await t.call({ method: 'GET', url: '/v1/incidents', as: 'write' })).statusCode).toBe(200);
    expect((await t.call({ method: 'POST', url: '/v1/api-keys', payload: { name: 'x', scopes: ['read'] }, as: 'write' })).statusCode).toBe(403);
    expect((await t.call({ method: 'DELETE', url: `/v1/incidents/${created.json().id}`, as: 'write' })).json()).toMatchObject({
      code: 'FORBIDDEN',
      details: { required: 'admin', held: ['write'] },
    });
  });

  it('ADMIN_API_KEY is accepted with admin scope', async () => {
    const response = await t.call({ method: 'GET', url: '/v1/api-keys', as: null, headers: { authorization: `Bearer ${bootstrapKey}` } });
    expect(response.statusCode).toBe(200);
  });

  it('creates a key shown once, stores only its hash, lists and revokes it', async () => {
    const created = await t.call({ method: 'POST', url: '/v1/api-keys', payload: { name: 'ci bot', scopes: ['write'] } });
    expect(created.statusCode).toBe(201);
    const body = created.json();
    expect(body).toMatchObject({ name: 'ci bot', scopes: ['write'] });
    expect(body.key).toMatch(/^tsn_/);
    expect(body.created_at).toBeTruthy();

    const stored = await t.db.selectFrom('api_keys').selectAll().where('id', '=', body.id).executeTakeFirstOrThrow();
    expect(JSON.stringify(stored)).not.toContain(body.key);

    const listed = (await t.call({ method: 'GET', url: '/v1/api-keys' })).json().data;
    expect(listed.find((k: { id: string }) => k.id === body.id)).toMatchObject({ name: 'ci bot' });
    expect(JSON.stringify(listed)).not.toContain(body.key);

    const use = () => t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'by bot' }, as: null, headers: { authorization: `Bearer ${body.key}` } });
    const made = await use();
    expect(made.statusCode).toBe(201);
    expect(made.json().created_by).toBe('api_key:ci bot');

    expect((await t.call({ method: 'DELETE', url: `/v1/api-keys/${body.id}` })).statusCode).toBe(204);
    expect((await use()).statusCode).toBe(401);
    expect((await t.call({ method: 'DELETE', url: `/v1/api-keys/${body.id}` })).json().code).toBe('API_KEY_NOT_FOUND');
  });

  it('validates key creation', async () => {
    for (const payload of [{ name: '', scopes: ['read'] }, { name: 'x', scopes: [] }, { name: 'x', scopes: ['root'] }, { name: 'x', scopes: ['read', 'read'] }]) {
      const response = await t.call({ method: 'POST', url: '/v1/api-keys', payload });
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
    }
  });

  it('leaves /health, /ready, /openapi.json and /docs open', async () => {
    for (const url of ['/health', '/ready', '/openapi.json', '/docs/']) {
      expect((await t.call({ method: 'GET', url, as: null })).statusCode, url).toBe(200);
    }
  });
});

describe('X-Request-ID', () => {
  it('echoes a sane id on the response and in error bodies, and replaces an insane one', async () => {
    const given = await t.call({ method: 'GET', url: '/v1/incidents', as: null, headers: { 'x-request-id': 'trace-123' } });
    expect(given.headers['x-request-id']).toBe('trace-123');
    expect(given.json().request_id).toBe('trace-123');
    const insane = await t.call({ method: 'GET', url: '/v1/incidents', as: null, headers: { 'x-request-id': 'bad id with spaces' } });
    expect(insane.headers['x-request-id']).not.toBe('bad id with spaces');
    expect(insane.json().request_id).toBe(insane.headers['x-request-id']);
  });
});

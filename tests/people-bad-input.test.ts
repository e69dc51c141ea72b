import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

// SPEC section 2 for the routes of section 5: bad input is a 4xx in the error shape, never a 500,
// and every route is in the OpenAPI document.

let t: TestApp;
let userId: string;
beforeAll(async () => {
  t = await startTestApp({ env: { RATE_LIMIT_MAX: '100000' } });
  userId = (await t.call({ method: 'POST', url: '/v1/users', payload: { name: 'Base', email: 'base@example.com' } })).json().id;
});
afterAll(async () => {
  await t.close();
});

const nul = 'a\u0000b';
const bodies: unknown[] = [
  null, [], 'text', 42, {},
  { name: nul, email: 'x@example.com' },
  { name: 'n', email: 'nul@example.com', preferences: { quiet_hours: { start: nul, end: '07:00' } } },
  { name: 'n', email: 'deep@example.com', contact_methods: [{ type: 'webhook', address: `https://example.com/${nul}` }] },
  { slug: 'ok', channel: 'sms', body: nul },
  { slug: 'ok', channel: 'sms', locale: nul, body: 'x' },
  { variables: { x: nul }, locale: 'en' },
  { variables: 'not an object' },
  { name: 'p', levels: [{ delay_seconds: 1e20, user_ids: [] }] },
  { name: 'p', levels: [{ delay_seconds: -1, user_ids: ['not-a-uuid'] }] },
  { name: 't', member_ids: ['00000000-0000-4000-8000-00000000000g'] },
  { name: 't', escalation_policy_id: 'urn:uuid:00000000-0000-4000-8000-000000000000' },
  { name: 'x'.repeat(10_000), email: 'long@example.com' },
  { timezone: 'x'.repeat(100) },
  { email: `${'a'.repeat(300)}@example.com` },
];

describe('bad input on the templates, users, policies and teams routes', () => {
  it('is answered with a 4xx in the error shape', async () => {
    const routes: [string, string][] = [
      ['POST', '/v1/templates'],
      ['POST', '/v1/templates/ok/render'],
      ['POST', '/v1/users'],
      ['PATCH', `/v1/users/${'USER'}`],
      ['POST', '/v1/escalation-policies'],
      ['POST', '/v1/teams'],
    ];
    for (const [method, template] of routes) {
      const url = template.replace('USER', userId);
      for (const body of bodies) {
        const response = await t.call({ method: method as 'POST', url, payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
        const label = `${method} ${url} ${JSON.stringify(body).slice(0, 80)}`;
        expect(response.statusCode, label).toBeGreaterThanOrEqual(200);
        expect(response.statusCode, label).toBeLessThan(500);
        if (response.statusCode >= 400) expect(Object.keys(response.json()), label).toEqual(expect.arrayContaining(['code', 'message', 'request_id']));
      }
    }
  });

  it('refuses malformed ids and slugs in paths', async () => {
    for (const url of ['/v1/users/nope', '/v1/teams/123', '/v1/escalation-policies/%zz', '/v1/templates/Bad%20Slug', '/v1/incidents/x/escalations']) {
      const response = await t.call({ method: 'GET', url, as: 'read' });
      expect(response.statusCode, url).toBe(400);
    }
    const render = await t.call({ method: 'POST', url: '/v1/templates/Bad%20Slug/render', payload: {}, as: 'read' });
    expect(render.statusCode).toBe(400);
  });

  it('asks for the right scopes', async () => {
    expect((await t.call({ method: 'POST', url: '/v1/users', payload: { name: 'r', email: 'r@example.com' }, as: 'read' })).statusCode).toBe(403);
    expect((await t.call({ method: 'GET', url: '/v1/users', as: null })).statusCode).toBe(401);
    expect((await t.call({ method: 'POST', url: '/v1/templates/incident.page/render', payload: { channel: 'sms', variables: {} }, as: 'read' })).json().code).toBe('TEMPLATE_VARIABLE_MISSING');
  });

  it('documents every route in the OpenAPI document', async () => {
    const paths = Object.keys((await t.call({ method: 'GET', url: '/openapi.json', as: null })).json().paths);
    for (const path of [
      '/v1/templates', '/v1/templates/{slug}', '/v1/templates/{slug}/render', '/v1/users', '/v1/users/{id}',
      '/v1/escalation-policies', '/v1/escalation-policies/{id}', '/v1/teams', '/v1/teams/{id}', '/v1/incidents/{id}/escalations',
    ]) expect(paths).toContain(path);
  });
});

// SPEC section 3: GET /v1/incidents/:id/notifications, an incident's notifications with their
// attempts (issue 9: it was in the contract but missing).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHttpReceiver, type HttpReceiver } from './helpers/receivers.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

let t: TestApp;
let hook: HttpReceiver;
let incident: string;
let other: string;
let ids: string[];

beforeAll(async () => {
  hook = await startHttpReceiver();
  hook.respond = (request) => ({ status: request.path === '/fail' ? 400 : 200, body: '{}' });
  t = await startTestApp({ role: 'all', env: { ALLOW_PRIVATE_TARGETS: 'true', RATE_LIMIT_MAX: '100000', RETRY_BACKOFF: '100ms' } });
  incident = (await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'with notifications' } })).json().id;
  other = (await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'another' } })).json().id;
  const notifications = [
    ...Array.from({ length: 5 }, (_, i) => ({ channel: 'webhook', recipient: `${hook.url}/ok`, content: `ok ${i}`, incident_id: incident })),
    { channel: 'webhook', recipient: `${hook.url}/fail`, content: 'fails', incident_id: incident },
    { channel: 'webhook', recipient: `${hook.url}/ok`, content: 'elsewhere', incident_id: other },
    { channel: 'webhook', recipient: `${hook.url}/ok`, content: 'no incident' },
  ];
  ids = (await t.call({ method: 'POST', url: '/v1/notifications/batch', payload: { notifications } })).json().ids;
  await eventually(async () => {
    const rows = await t.db.selectFrom('notifications').select('status').execute();
    return rows.every((r) => r.status === 'sent' || r.status === 'failed');
  }, 20_000, 'every notification to end');
});

afterAll(async () => {
  await t?.close();
  await hook?.close();
});

const list = (query = '', id = incident, as: 'read' | null = 'read') => t.call({ method: 'GET', url: `/v1/incidents/${id}/notifications${query}`, as });

describe('GET /v1/incidents/:id/notifications', () => {
  it("lists the incident's notifications, and only those, with their attempts", async () => {
    const response = await list();
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.next_cursor).toBeNull();
    expect(body.data.map((n: { id: string }) => n.id).sort()).toEqual(ids.slice(0, 6).sort());
    const failed = body.data.find((n: { content: string }) => n.content === 'fails');
    expect(failed.status).toBe('failed');
    expect(failed.attempts).toEqual([expect.objectContaining({ attempt: 1, outcome: 'failed', status_code: 400 })]);
    expect(body.data.filter((n: { status: string; attempts: unknown[] }) => n.status === 'sent' && n.attempts.length === 1)).toHaveLength(5);
  });

  it('filters by status and channel, and pages with limit and cursor', async () => {
    expect((await list('?status=failed')).json().data).toHaveLength(1);
    expect((await list('?status=sent&channel=webhook')).json().data).toHaveLength(5);
    expect((await list('?channel=email')).json().data).toHaveLength(0);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: { id: string }[]; next_cursor: string | null } = (await list(`?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)).json();
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((n) => n.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen.sort()).toEqual(ids.slice(0, 6).sort());
  });

  it('answers 404 for an unknown incident, 400 for bad input, 401 without a key', async () => {
    const unknown = await list('', '6d3f0e9e-4b7a-4c55-9d0e-1f2a3b4c5d6e');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('INCIDENT_NOT_FOUND');
    for (const [query, id] of [['', 'not-a-uuid'], ['?limit=0', incident], ['?limit=501', incident], ['?status=lost', incident], ['?cursor=garbage', incident], ['?colour=red', incident]] as const) {
      const response = await list(query, id);
      expect(response.statusCode, `${id}${query}`).toBe(400);
      expect(response.json()).toMatchObject({ code: 'VALIDATION_ERROR', request_id: expect.any(String) });
    }
    expect((await list('', incident, null)).statusCode).toBe(401);
  });

  it('is in the OpenAPI document with its schemas', async () => {
    const document = (await t.call({ method: 'GET', url: '/openapi.json', as: null })).json();
    const route = document.paths['/v1/incidents/{id}/notifications']?.get;
    expect(route).toBeDefined();
    expect(Object.keys(route.responses).sort()).toEqual(['200', '400', '401', '403', '404']);
    expect(route.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['id', 'status', 'channel', 'limit', 'cursor']));
    expect(document.paths['/metrics'].get.description).toContain('tocsin_sweep_recovered_total');
  });
});

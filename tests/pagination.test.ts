import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ env: { RATE_LIMIT_MAX: '100000' } });
});
afterAll(async () => {
  await t.close();
});

async function createMany(count: number, tag: string) {
  const rows = Array.from({ length: count }, (_, i) => ({ title: `${tag} ${i}`, severity: 'P3', created_by: 'test' }));
  return (await t.db.insertInto('incidents').values(rows).returning('id').execute()).map((r) => r.id);
}

async function walk(query: string, onPage?: () => Promise<void>) {
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const url: string = `/v1/incidents?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const response = await t.call({ method: 'GET', url, as: 'read' });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    seen.push(...body.data.map((i: { id: string }) => i.id));
    cursor = body.next_cursor;
    pages++;
    await onPage?.();
  } while (cursor);
  return { seen, pages };
}

describe('cursor pagination (SPEC section 2)', () => {
  it('walks every row once, newest first, with limit and next_cursor', async () => {
    const ids = await createMany(23, 'walk');
    const { seen, pages } = await walk('q=walk&limit=5');
    expect(pages).toBe(5);
    expect(seen).toHaveLength(23);
    expect(new Set(seen)).toEqual(new Set(ids));
  });

  it('neither skips nor repeats rows while rows are inserted between pages', async () => {
    const before = await createMany(60, 'moving');
    // Rows inserted in bulk share one created_at, so the id tie-breaker is exercised too.
    const { seen } = await walk('q=moving&limit=7', async () => {
      await createMany(3, 'moving');
    });
    expect(new Set(seen).size).toBe(seen.length); // no repeats
    for (const id of before) expect(seen).toContain(id); // nothing that existed is skipped
  });

  it('a search with many matches (read newest first, not through the full-text index) pages the same way', async () => {
    // 1,000 matches or more switch listIncidents to its other query shape (SEARCH_WALK_FROM).
    const ids = await createMany(1_100, 'plentiful');
    await createMany(30, 'other');
    const { seen, pages } = await walk('q=plentiful&severity=P3&limit=500');
    expect(pages).toBe(3);
    expect(seen).toHaveLength(1_100);
    expect(new Set(seen)).toEqual(new Set(ids));
  });

  it('defaults to 50 and caps at 500', async () => {
    await createMany(60, 'sizes');
    const first = (await t.call({ method: 'GET', url: '/v1/incidents?q=sizes' })).json();
    expect(first.data).toHaveLength(50);
    expect(first.next_cursor).toEqual(expect.any(String));
    expect((await t.call({ method: 'GET', url: '/v1/incidents?q=sizes&limit=500' })).json().next_cursor).toBeNull();
  });
});

/** Walks any list with `limit` and `next_cursor`, returning the ids (or a key) in order. */
async function walkList(url: string, limit: number, keyOf: (item: Record<string, unknown>) => string = (item) => String(item.id)) {
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const separator = url.includes('?') ? '&' : '?';
    const response = await t.call({ method: 'GET', url: `${url}${separator}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}` });
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    expect(Object.keys(body).sort()).toEqual(['data', 'next_cursor']);
    expect(body.data.length).toBeLessThanOrEqual(limit);
    seen.push(...body.data.map(keyOf));
    cursor = body.next_cursor;
    pages++;
  } while (cursor);
  return { seen, pages };
}

describe('every list paginates (SPEC section 2)', () => {
  it('API keys, integrations and heartbeats, oldest first', async () => {
    const created = { keys: [] as string[], integrations: [] as string[], heartbeats: [] as string[] };
    for (let i = 0; i < 5; i++) {
      created.keys.push((await t.call({ method: 'POST', url: '/v1/api-keys', payload: { name: `k${i}`, scopes: ['read'] } })).json().id);
      created.integrations.push((await t.call({ method: 'POST', url: '/v1/integrations', payload: { type: 'alertmanager', name: `i${i}` } })).json().id);
      created.heartbeats.push((await t.call({ method: 'POST', url: '/v1/heartbeats', payload: { name: `h${i}`, interval_seconds: 3600 } })).json().id);
    }
    const keys = await walkList('/v1/api-keys', 2);
    expect(keys.seen.slice(-5)).toEqual(created.keys); // after the test app's own three
    expect(new Set(keys.seen).size).toBe(keys.seen.length);
    expect((await walkList('/v1/integrations', 2)).seen).toEqual(created.integrations);
    const heartbeats = await walkList('/v1/heartbeats', 3);
    expect(heartbeats).toEqual({ seen: created.heartbeats, pages: 2 });
  });

  it('timelines, oldest first in the order events were written, and escalation steps', async () => {
    const incident = (await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'talkative' } })).json();
    for (let i = 0; i < 12; i++) {
      expect((await t.call({ method: 'POST', url: `/v1/incidents/${incident.id}/comments`, payload: { body: `comment ${i}` } })).statusCode).toBe(201);
    }
    const events = await walkList(`/v1/incidents/${incident.id}/events`, 5, (e) => `${e.type}:${(e.data as { body?: string }).body ?? ''}`);
    expect(events.pages).toBe(3);
    expect(events.seen).toEqual(['incident.created:', ...Array.from({ length: 12 }, (_, i) => `incident.comment:comment ${i}`)]);
    const steps = await walkList(`/v1/incidents/${incident.id}/escalations`, 5);
    expect(steps).toEqual({ seen: [], pages: 1 });
  });

  it('template versions, newest first within each channel and locale', async () => {
    for (let i = 0; i < 7; i++) {
      for (const locale of ['en', 'fr']) {
        expect((await t.call({ method: 'POST', url: '/v1/templates', payload: { slug: 'paged.list', channel: 'sms', locale, body: `v${i}` } })).statusCode).toBe(201);
      }
    }
    const versions = await walkList('/v1/templates/paged.list/versions', 4, (v) => `${v.locale}/${v.version}`);
    expect(versions.pages).toBe(4);
    expect(versions.seen).toEqual([...[7, 6, 5, 4, 3, 2, 1].map((v) => `en/${v}`), ...[7, 6, 5, 4, 3, 2, 1].map((v) => `fr/${v}`)]);
  });

  it('refuses a cursor it did not give out, and a limit out of range, on every list', async () => {
    const incident = (await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'x' } })).json();
    const lists = ['/v1/api-keys', '/v1/integrations', '/v1/heartbeats', `/v1/incidents/${incident.id}/events`, `/v1/incidents/${incident.id}/escalations`,
      '/v1/templates/incident.page/versions', '/v1/templates', '/v1/incidents', '/v1/notifications', '/v1/users', '/v1/teams', '/v1/escalation-policies'];
    for (const list of lists) {
      for (const query of ['cursor=bm90LW1pbmU', 'limit=0', 'limit=501']) {
        const response = await t.call({ method: 'GET', url: `${list}?${query}` });
        expect(response.statusCode, `${list}?${query}: ${response.body}`).toBe(400);
        expect(response.json().code).toBe('VALIDATION_ERROR');
      }
    }
  });
});

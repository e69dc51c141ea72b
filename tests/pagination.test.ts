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

  it('defaults to 50 and caps at 500', async () => {
    await createMany(60, 'sizes');
    const first = (await t.call({ method: 'GET', url: '/v1/incidents?q=sizes' })).json();
    expect(first.data).toHaveLength(50);
    expect(first.next_cursor).toEqual(expect.any(String));
    expect((await t.call({ method: 'GET', url: '/v1/incidents?q=sizes&limit=500' })).json().next_cursor).toBeNull();
  });
});

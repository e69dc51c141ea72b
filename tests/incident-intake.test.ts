import { AsyncLocalStorage } from 'node:async_hooks';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeStatementBatcher } from '../src/adapters/postgres/statement-batcher.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

// Issue 17 (ingest): concurrent POST /v1/incidents share one statement. Sharing must never change
// what a caller sees: each gets its own answer, a refused value fails only its own request, and
// no incident is written twice or lost.

const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
};

describe('the statement batcher', () => {
  it('sends a lone item at once, and gathers what arrives while its statements run, up to the batch size', async () => {
    const batches: number[][] = [];
    const first = gate();
    const batcher = makeStatementBatcher<number>({
      inFlight: 1,
      maxBatch: 3,
      write: async (items) => {
        batches.push(items);
        if (batches.length === 1) await first.opened;
      },
    });
    const done = [batcher.add(1)];
    expect(batches).toEqual([[1]]);
    for (const n of [2, 3, 4, 5]) done.push(batcher.add(n));
    expect(batches).toEqual([[1]]);
    first.open();
    await Promise.all(done);
    expect(batches).toEqual([[1], [2, 3, 4], [5]]);
  });

  it('runs a statement in the async context (the trace) of its first item', async () => {
    const context = new AsyncLocalStorage<string>();
    const seen: (string | undefined)[] = [];
    const first = gate();
    const batcher = makeStatementBatcher<string>({
      inFlight: 1,
      maxBatch: 10,
      write: async () => {
        seen.push(context.getStore());
        if (seen.length === 1) await first.opened;
      },
    });
    const done = [context.run('a', () => batcher.add('a')), context.run('b', () => batcher.add('b')), context.run('c', () => batcher.add('c'))];
    first.open();
    await Promise.all(done);
    // The second statement is started when the first ends, inside a's context: it must run in b's.
    expect(seen).toEqual(['a', 'b']);
  });

  it('tries the items of a statement PostgreSQL refused one by one, and fails only the one at fault', async () => {
    const written: string[] = [];
    const first = gate();
    const batcher = makeStatementBatcher<string>({
      inFlight: 1,
      maxBatch: 10,
      write: async (items) => {
        if (items.includes('first')) await first.opened;
        if (items.includes('bad')) throw Object.assign(new Error('invalid byte sequence'), { code: '22021' });
        written.push(...items);
      },
    });
    const firstDone = batcher.add('first');
    const results = Promise.allSettled(['x', 'bad', 'y'].map((item) => batcher.add(item)));
    first.open();
    await firstDone;
    const [x, bad, y] = await results;
    expect(x!.status).toBe('fulfilled');
    expect(y!.status).toBe('fulfilled');
    expect(bad).toMatchObject({ status: 'rejected', reason: { code: '22021' } });
    expect(written.sort()).toEqual(['first', 'x', 'y']);
  });

  it('fails every item of a statement that got no answer, and writes none of them again', async () => {
    let writes = 0;
    const first = gate();
    const batcher = makeStatementBatcher<string>({
      inFlight: 1,
      maxBatch: 10,
      write: async (items) => {
        writes++;
        if (items.includes('first')) return first.opened;
        throw new Error('Connection terminated unexpectedly');
      },
    });
    const firstDone = batcher.add('first');
    const results = Promise.allSettled(['x', 'y'].map((item) => batcher.add(item)));
    first.open();
    await firstDone;
    expect((await results).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(writes).toBe(2);
  });
});

describe('POST /v1/incidents, many at once', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers each request with its own incident, written once with its timeline and change; a refused value fails only its request', async () => {
    const titles = Array.from({ length: 60 }, (_, i) => (i === 31 ? 'bad \u0000 title' : `at once ${i}`));
    const responses = await Promise.all(titles.map((title) => t.call({ method: 'POST', url: '/v1/incidents', payload: { title, severity: 'P2' } })));

    const bad = responses[31]!;
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('VALIDATION_ERROR');
    const good = responses.filter((_, i) => i !== 31);
    expect(good.map((r) => r.statusCode)).toEqual(good.map(() => 201));
    const bodies = good.map((r) => r.json());
    expect(bodies.map((b) => b.title)).toEqual(titles.filter((_, i) => i !== 31));
    expect(new Set(bodies.map((b) => b.id)).size).toBe(59);

    const { rows } = await sql<{ id: string; title: string; entries: number; changes: number }>`
      select i.id, i.title,
             (select count(*)::int from incident_events e where e.incident_id = i.id and e.type = 'incident.created') as entries,
             (select count(*)::int from changes c where c.type = 'incident.created' and c.data->>'id' = i.id::text) as changes
      from incidents i`.execute(t.db);
    expect(rows.length).toBe(59);
    for (const body of bodies) {
      const row = rows.find((r) => r.id === body.id);
      expect(row, body.title).toMatchObject({ title: body.title, entries: 1, changes: 1 });
    }
    // Each answer is what the database holds (a GET returns the same incident).
    const fetched = (await t.call({ method: 'GET', url: `/v1/incidents/${bodies[17].id}` })).json();
    expect(fetched).toEqual(bodies[17]);
  });
});

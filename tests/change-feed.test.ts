import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendChanges, deleteChangesBefore, oldestChangeId, settledHorizon, type Change } from '../src/adapters/postgres/change-store.ts';
import { makeChangeReader } from '../src/adapters/postgres/change-reader.ts';
import { makeDatabase, makePool, type Database } from '../src/adapters/postgres/database.ts';
import { createTestDatabase } from './helpers/test-database.ts';
import { waitFor } from './helpers/wait.ts';

// SPEC section 7 (issue 11): every change appears once, in commit order, to a reader in another
// process, whatever the writers do concurrently, and across a lost LISTEN connection.

const writer = fileURLToPath(new URL('./helpers/change-writer.ts', import.meta.url));
const silent = { info: () => {}, warn: () => {}, debug: () => {} };

function runWriter(url: string, tag: string, loops: number, perLoop: number, notify: boolean): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, url, tag, String(loops), String(perLoop), notify ? 'notify' : 'silent'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`writer ${tag} exited ${code}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1)!) as number[]);
    });
  });
}

describe('the change feed', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: Database;

  beforeAll(async () => {
    database = await createTestDatabase();
    db = makeDatabase(makePool(database.url, 10));
  });
  afterAll(async () => {
    await db.destroy();
    await database.drop();
  });

  it('hands every change committed by two writer processes to a reader once, in commit order, across a lost connection', async () => {
    const reader = makeChangeReader({ db, listenUrl: database.url, logger: silent });
    await reader.start();
    const seen: Change[] = [];
    reader.subscribe((changes) => seen.push(...changes));

    // Two processes of 8 concurrent writers each; one notifies after its commits, the other never
    // does (its changes must still arrive, through the other's wake-ups and the poll).
    const writers = Promise.all([runWriter(database.url, 'a', 8, 120, true), runWriter(database.url, 'b', 8, 120, false)]);
    // Mid-run, the listener's connection is terminated; it reconnects and catches up.
    await waitFor(() => seen.length > 200, { timeoutMs: 60_000 });
    const { rows } = await sql<{ n: number }>`
      select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
      where datname = current_database() and application_name = 'tocsin-listen'`.execute(db);
    expect(rows[0]!.n).toBe(1);
    const committed = (await writers).flat().sort((x, y) => x - y);
    expect(committed.length).toBeGreaterThan(1500);

    await waitFor(() => seen.length >= committed.length && reader.listening(), { timeoutMs: 30_000 }).catch((error: Error) => {
      const got = new Set(seen.map((change) => change.id));
      const missing = committed.filter((id) => !got.has(id));
      throw new Error(`${error.message}: saw ${seen.length} of ${committed.length}, listening ${reader.listening()}, position ${reader.position()}, missing ${missing.slice(0, 20).join(',')}`);
    });
    const ids = seen.map((change) => change.id);
    // Strictly increasing: once each, in order, and nothing that was rolled back.
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1]!);
    expect(ids).toEqual(committed);
    await reader.stop();
  }, 120_000);

  it('waits for appenders in flight in its own database, never for those of another database on the server', async () => {
    // Two Tocsin databases on one server (staging beside production; the suite's test files): the
    // feed lock is an advisory lock, which pg_locks lists for the whole cluster.
    const other = await createTestDatabase();
    const otherDb = makeDatabase(makePool(other.url, 2));
    const horizonWithin = (ms: number) =>
      db.transaction().execute(async (trx) => {
        await sql`select set_config('statement_timeout', ${String(ms)}, true)`.execute(trx);
        return settledHorizon(trx);
      });
    // A transaction that has appended a change and stays open until it is released.
    const holdAppender = async (database: Database, type: string) => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let appended!: () => void;
      const inFlight = new Promise<void>((resolve) => (appended = resolve));
      const done = database.transaction().execute(async (trx) => {
        await appendChanges(trx, [{ type, data: {} }]);
        appended();
        await held;
      });
      await inFlight;
      return async () => {
        release();
        await done;
      };
    };
    try {
      const endElsewhere = await holdAppender(otherDb, 'test.elsewhere');
      // Without the database in the lock's match, this waited until the other transaction ended.
      const elsewhere = await horizonWithin(5000).catch((error: unknown) => error);
      await endElsewhere();
      expect(elsewhere).toBeTypeOf('number');

      // The same transaction in this database is waited for: the horizon gives up at the timeout.
      const endHere = await holdAppender(db, 'test.here');
      const here = await horizonWithin(300).catch((error: unknown) => error);
      await endHere();
      expect(here).toMatchObject({ code: '57014' });
    } finally {
      await otherDb.destroy();
      await other.drop();
    }
  });

  it('frees the feed from a transaction its process left open: the session ends after idle_in_transaction_session_timeout', async () => {
    const stalled = makeDatabase(makePool(database.url, 1, { idleInTransactionTimeoutMs: 300 }));
    try {
      let appended!: () => void;
      const inFlight = new Promise<void>((resolve) => (appended = resolve));
      // A process that appends and then stops answering (frozen, or cut off by the network).
      const left = stalled.transaction().execute(async (trx) => {
        await appendChanges(trx, [{ type: 'test.stalled', data: {} }]);
        appended();
        await new Promise((resolve) => setTimeout(resolve, 1500));
        await sql`select 1`.execute(trx);
      });
      const outcome = left.then(() => 'committed', (error: Error) => error.message);
      await inFlight;
      // The reader waits for it, but only until PostgreSQL ends the idle session, not for ever.
      const started = Date.now();
      const horizon = await db.transaction().execute(async (trx) => {
        await sql`select set_config('statement_timeout', '5000', true)`.execute(trx);
        return settledHorizon(trx);
      });
      expect(horizon).toBeTypeOf('number');
      expect(Date.now() - started).toBeLessThan(1500);
      // Its work is rolled back: the process, when it wakes, finds its session gone.
      expect(await outcome).toMatch(/terminat|idle-in-transaction|connection/i);
    } finally {
      await stalled.destroy();
    }
  });

  it('keeps NUL characters from failing an append, and deletes what is past retention in batches', async () => {
    const [id] = await appendChanges(db, [{ type: 'test.nul', data: { text: 'a\u0000b', literal: '\\u0000' } }]);
    const { rows } = await sql<{ data: { text: string; literal: string } }>`select data from changes where id = ${id}`.execute(db);
    expect(rows[0]!.data).toEqual({ text: 'a\ufffdb', literal: '\\u0000' });

    await sql`update changes set at = now() - interval '2 hours' where id <= ${id}`.execute(db);
    await appendChanges(db, [{ type: 'test.recent', data: {} }]);
    const removed = await deleteChangesBefore(db, new Date(Date.now() - 3600_000), 100);
    expect(removed).toBeGreaterThan(100); // more than one batch
    expect(await oldestChangeId(db)).toBeGreaterThan(id!);
  });
});

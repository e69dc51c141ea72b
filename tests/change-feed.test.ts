import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendChanges, deleteChangesBefore, oldestChangeId, type Change } from '../src/adapters/postgres/change-store.ts';
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

    await waitFor(() => seen.length >= committed.length && reader.listening(), { timeoutMs: 30_000 });
    const ids = seen.map((change) => change.id);
    // Strictly increasing: once each, in order, and nothing that was rolled back.
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1]!);
    expect(ids).toEqual(committed);
    await reader.stop();
  }, 120_000);

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

import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDatabase, makePool, type Database } from '../src/adapters/postgres/database.ts';
import { summarize } from '../src/domain/notification.ts';
import { createTestDatabase } from './helpers/test-database.ts';

// An incident's notification_status (SPEC section 3) is written by one statement that counts and
// updates, through the migrations' tocsin_notification_summary(); the domain states the same rule
// as summarize(). They must agree for every mix of pending, sent and failed notifications.

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Database;

beforeAll(async () => {
  database = await createTestDatabase();
  db = makeDatabase(makePool(database.url, 2));
});
afterAll(async () => {
  await db?.destroy();
  await database?.drop();
});

describe('tocsin_notification_summary', () => {
  it('gives what summarize() gives, for every count of 0 to 3 of each kind', async () => {
    const grid = [0, 1, 2, 3].flatMap((pending) => [0, 1, 2, 3].flatMap((sent) => [0, 1, 2, 3].map((failed) => ({ pending, sent, failed }))));
    const { rows } = await sql<{ pending: number; sent: number; failed: number; summary: string }>`
      select pending, sent, failed, tocsin_notification_summary(pending, sent, failed) as summary
      from unnest(${grid.map((g) => g.pending)}::int[], ${grid.map((g) => g.sent)}::int[], ${grid.map((g) => g.failed)}::int[]) as g(pending, sent, failed)`.execute(db);
    expect(rows).toHaveLength(64);
    for (const row of rows) expect(row.summary, JSON.stringify(row)).toBe(summarize(row));
    expect(new Set(rows.map((row) => row.summary))).toEqual(new Set(['none', 'pending', 'sent', 'failed', 'partial']));
  });
});

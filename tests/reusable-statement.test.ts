import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDatabase, makePool, type Database } from '../src/adapters/postgres/database.ts';
import { reusableStatement } from '../src/adapters/postgres/reusable-statement.ts';
import { createTestDatabase } from './helpers/test-database.ts';

// adapters/postgres/reusable-statement.ts: a statement built and compiled once, then run with each
// call's values, against a real PostgreSQL: each run sees its own arguments, wherever and however
// often they appear, and the values the builder wrote in itself stay.

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Database;

beforeAll(async () => {
  database = await createTestDatabase({ empty: true });
  db = makeDatabase(makePool(database.url, 2));
});
afterAll(async () => {
  await db?.destroy();
  await database?.drop();
});

describe('reusableStatement', () => {
  it('runs each call with its own arguments, a repeated one and a constant included', async () => {
    let builds = 0;
    const statement = reusableStatement((word: string, ids: string, factor: number) => {
      builds++;
      return sql<{ word: string; again: string; id: number; scaled: number; constant: string }>`
        select ${word}::text as word, ${word}::text as again, x as id, x * ${factor}::int as scaled, ${'fixed'}::text as constant
        from unnest(${ids}::int[]) as x order by x`;
    });
    expect(await statement(db, 'first', '{1,2}', 10)).toEqual([
      { word: 'first', again: 'first', id: 1, scaled: 10, constant: 'fixed' },
      { word: 'first', again: 'first', id: 2, scaled: 20, constant: 'fixed' },
    ]);
    expect(await statement(db, 'second', '{3}', -1)).toEqual([{ word: 'second', again: 'second', id: 3, scaled: -3, constant: 'fixed' }]);
    expect(await statement(db, "it's \"quoted\"", '{}', 0)).toEqual([]);
    expect(builds).toBe(1);
  });

  it('keeps a statement that fails on one run usable on the next', async () => {
    const statement = reusableStatement((value: string) => sql<{ n: number }>`select ${value}::int as n`);
    await expect(statement(db, 'not a number')).rejects.toThrow(/invalid input syntax/);
    expect(await statement(db, '42')).toEqual([{ n: 42 }]);
  });
});

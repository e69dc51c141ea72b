import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { intArray, textArray, timestampArray } from '../src/adapters/postgres/array-literal.ts';
import { makeDatabase, makePool, type Database } from '../src/adapters/postgres/database.ts';
import { createTestDatabase } from './helpers/test-database.ts';

// adapters/postgres/array-literal.ts: the delivery worker's batches go to PostgreSQL as array
// literals it builds itself. Whatever a receiver answered (the error texts) must come back from
// the server exactly as it was, NULL must stay NULL, and a text "NULL" must stay text.

type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;
let database: TestDatabase;
let db: Database;

beforeAll(async () => {
  database = await createTestDatabase({ empty: true });
  db = makeDatabase(makePool(database.url, 1));
});
afterAll(async () => {
  await db?.destroy();
  await database?.drop();
});

async function roundTrip<T>(literal: string, type: 'text' | 'uuid' | 'int' | 'timestamptz'): Promise<T[]> {
  // unnest with ordinality, so that the order is the array's and a NULL element stays a row.
  const { rows } = await sql<{ value: T }>`
    select value from unnest(${literal}::${sql.raw(type)}[]) with ordinality as a(value, n) order by n`.execute(db);
  return rows.map((row) => row.value);
}

describe('array literals for the worker statements', () => {
  it('carry any text, NULL and the text "NULL" through PostgreSQL unchanged', async () => {
    const awkward = ['', 'NULL', 'null', ' spaced ', 'a,b', '{braces}', 'quote " inside', 'back\\slash', '\\"', 'line\nbreak', 'tab\there', 'é ✓ 🚨', null];
    expect(await roundTrip<string | null>(textArray(awkward), 'text')).toEqual(awkward);
    expect(await roundTrip<string>(textArray([]), 'text')).toEqual([]);
  });

  it('carry arbitrary strings (no NUL: PostgreSQL text cannot hold one)', async () => {
    // Any code point, and strings made of what an array literal treats specially.
    const special = fc.constantFrom('"', '\\', ',', '{', '}', ' ', 'NULL', '\n', 'a', 'é', '🚨');
    const text = fc.oneof(fc.string({ unit: 'binary' }).map((s) => s.replaceAll('\0', '')), fc.string({ unit: special }));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(text, { nil: null }), { maxLength: 20 }), async (values) => {
        expect(await roundTrip<string | null>(textArray(values), 'text')).toEqual(values);
      }),
      { numRuns: 200 },
    );
  });

  it('carry uuids, integers and instants', async () => {
    const ids = ['0193a6f2-6c1e-7c3a-9f1d-2b4c6d8e0a1b', null, '00000000-0000-0000-0000-000000000000'];
    expect(await roundTrip<string | null>(textArray(ids), 'uuid')).toEqual(ids);
    expect(await roundTrip<number | null>(intArray([0, -1, 2_147_483_647, null, 200]), 'int')).toEqual([0, -1, 2_147_483_647, null, 200]);
    const instants = [new Date('2026-11-30T04:49:00.123Z'), null, new Date('1999-12-31T23:59:59.999Z')];
    const back = await roundTrip<Date | null>(timestampArray(instants), 'timestamptz');
    expect(back.map((d) => d?.toISOString() ?? null)).toEqual(instants.map((d) => d?.toISOString() ?? null));
  });

  it('carry a Date repeated among others (formatted once) as each of its places says', async () => {
    // timestampArray formats a run of the same Date once: every element must still be its own.
    const shared = new Date('2026-11-30T20:00:00.001Z');
    const instants = [shared, shared, null, new Date('2026-11-30T20:00:00.002Z'), shared, new Date(shared.getTime()), null, shared];
    const back = await roundTrip<Date | null>(timestampArray(instants), 'timestamptz');
    expect(back.map((d) => d?.toISOString() ?? null)).toEqual(instants.map((d) => d?.toISOString() ?? null));
  });

  it('refuse what is not an integer rather than send something else', () => {
    expect(() => intArray([1.5])).toThrow(TypeError);
    expect(() => intArray([Number.NaN])).toThrow(TypeError);
  });
});

import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDatabase, makePool, type Database } from '../src/adapters/postgres/database.ts';
import { preparable, statementName } from '../src/adapters/postgres/prepared-statements.ts';
import { createTestDatabase } from './helpers/test-database.ts';

// adapters/postgres/prepared-statements.ts: a statement sent a fifth time with parameters is
// prepared on each connection from then on; a statement that would change shape with the schema
// (`*`) never is; DATABASE_PREPARED_STATEMENTS=false prepares nothing.

type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;
let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase({ empty: true });
});
afterAll(async () => {
  await database?.drop();
});

/** The statements prepared on the one connection of `db`, seen from that connection. */
async function prepared(db: Database): Promise<string[]> {
  const { rows } = await sql<{ statement: string }>`select statement from pg_prepared_statements order by prepare_time`.execute(db);
  return rows.map((row) => row.statement);
}

describe('which statements may be prepared', () => {
  it.each([
    ['select * from incidents where id = $1', false],
    ['insert into x (a) values ($1) returning *', false],
    ['select "incidents".* from incidents', false],
    ['select a, * from t', false],
    ['with changed as (update n set a = 1 returning n.id) select changed.*, 1 from changed', true],
    ['with "changed" as (update n set a = 1 returning n.id) select "changed".* from changed', true],
    ['insert into t (a, b) select * from unnest($1::int[], $2::text[])', true],
    ['select count(*) from t where a = $1', true],
    ["delete from r where s + ms * interval '1 millisecond' < now() and k = $1", true],
    ['insert into j (a) select a from (select *, 1 as b from json_to_recordset($1::json) as x (a int)) s returning a', true],
    ['with x as (select * from t where a = $1) select x.* from x', true],
  ])('%s: %s', (text, expected) => {
    expect(preparable(text)).toBe(expected);
  });
});

describe('statement names', () => {
  it('say what a statement does, for traces and pg_prepared_statements, and tell texts apart', () => {
    expect(statementName('with changed as (update notifications n set a = 1 returning n.id) select 1')).toMatch(/^tocsin_with_notifications_[\w-]{16}$/);
    expect(statementName('insert into pgboss.job (id) values ($1)')).toMatch(/^tocsin_insert_job_[\w-]{16}$/);
    expect(statementName('select count(*) from "incidents" where a = $1')).toMatch(/^tocsin_select_incidents_/);
    expect(statementName('select tocsin_changes_horizon()')).toMatch(/^tocsin_select_[\w-]{16}$/);
    expect(statementName('select 1 from t where a = $1')).not.toBe(statementName('select 1 from t where a = $2'));
    const long = statementName(`update ${'x'.repeat(80)} set a = $1`);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(63);
  });
});

describe('prepared statements', () => {
  let db: Database;
  beforeAll(async () => {
    db = makeDatabase(makePool(database.url, 1));
    await sql`create table if not exists prep_probe (id int primary key, name text)`.execute(db);
  });
  afterAll(async () => {
    await db?.destroy();
  });

  it('prepares a statement from its fifth run on, and it answers as before', async () => {
    const insert = (id: number) => sql`insert into prep_probe (id, name) values (${id}, ${`n${id}`}) returning id, name`.execute(db);
    for (let id = 1; id <= 4; id++) await insert(id);
    expect((await prepared(db)).filter((s) => s.includes('prep_probe'))).toEqual([]);
    for (let id = 5; id <= 8; id++) expect((await insert(id)).rows).toEqual([{ id, name: `n${id}` }]);
    expect((await prepared(db)).filter((s) => s.includes('insert into prep_probe'))).toHaveLength(1);
  });

  it('never prepares a statement whose columns would change with a migration, and it sees the new column', async () => {
    const read = (id: number) => sql<Record<string, unknown>>`select * from prep_probe where id = ${id}`.execute(db);
    for (let i = 0; i < 6; i++) await read(1);
    const named = (id: number) => sql<Record<string, unknown>>`select id, name, (select count(*) from prep_probe) as n from prep_probe where id = ${id}`.execute(db);
    for (let i = 0; i < 6; i++) await named(1);
    const statements = await prepared(db);
    expect(statements.filter((s) => s.includes('select * from prep_probe'))).toEqual([]);
    expect(statements.filter((s) => s.includes('count(*)'))).toHaveLength(1);
    // A migration adds a column while this process runs: both kinds still answer.
    await sql`alter table prep_probe add column extra text default 'x'`.execute(db);
    expect((await read(1)).rows).toEqual([{ id: 1, name: 'n1', extra: 'x' }]);
    expect((await named(1)).rows).toEqual([{ id: 1, name: 'n1', n: expect.anything() }]);
  });

  it('sends a statement unnamed once its prepared result changed shape under a migration', async () => {
    // preparable() lets this through (a star over its own CTE), but the CTE's star reaches the result.
    const read = (id: number) => sql<Record<string, unknown>>`with p as (select * from prep_probe where id = ${id}) select p.* from p`.execute(db);
    for (let i = 0; i < 6; i++) await read(2);
    expect((await prepared(db)).filter((s) => s.includes('with p as'))).toHaveLength(1);
    await sql`alter table prep_probe add column later int default 7`.execute(db);
    // The one run that meets the change fails as PostgreSQL says; every run after it answers.
    await expect(read(2)).rejects.toThrow(/cached plan must not change result type/);
    expect((await read(2)).rows).toEqual([expect.objectContaining({ id: 2, later: 7 })]);
    expect((await read(2)).rows).toEqual([expect.objectContaining({ id: 2, later: 7 })]);
  });

  it('prepares nothing when switched off (DATABASE_PREPARED_STATEMENTS=false)', async () => {
    const off = makeDatabase(makePool(database.url, 1, { preparedStatements: false }));
    try {
      for (let i = 0; i < 8; i++) await sql`select name from prep_probe where id = ${1}`.execute(off);
      expect(await prepared(off)).toEqual([]);
    } finally {
      await off.destroy();
    }
  });
});

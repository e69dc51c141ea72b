import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { NO_MIGRATIONS } from 'kysely/migration';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDatabase, makeMigrator, makePool, migrateToLatest, migrationsFolder, type Database } from '../src/adapters/postgres/database.ts';
import { createTestDatabase } from './helpers/test-database.ts';
import { tracingHook } from './helpers/worker-process.ts';

const mainScript = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const tocsinTables = ['api_keys', 'idempotency_keys', 'incident_events', 'incidents', 'rate_limit_hits'];

/** Every migration file, by the name kysely's FileMigrationProvider gives it (the extension dropped). */
const migrationNames = readdirSync(migrationsFolder)
  .filter((file) => /\.(ts|js|mjs|mts)$/.test(file) && !file.endsWith('.d.ts'))
  .map((file) => file.slice(0, file.length - path.extname(file).length))
  .sort();

async function publicTables(db: Database): Promise<string[]> {
  const { rows } = await sql<{ table_name: string }>`
    select table_name from information_schema.tables where table_schema = 'public' order by table_name`.execute(db);
  return rows.map((row) => row.table_name);
}

type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;
const databases: TestDatabase[] = [];
async function emptyDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase({ empty: true });
  databases.push(database);
  return database;
}

afterAll(async () => {
  await Promise.all(databases.map((database) => database.drop()));
});

describe('migrations in-process', () => {
  let db: Database;
  beforeAll(async () => {
    db = makeDatabase(makePool((await emptyDatabase()).url, 2));
  });
  afterAll(async () => {
    await db?.destroy();
  });

  it('applies every migration to an empty database, then nothing the second time', async () => {
    expect(migrationNames.length).toBeGreaterThan(0);
    expect(await publicTables(db)).toEqual([]);

    expect(await migrateToLatest(db)).toEqual(migrationNames);
    const tables = await publicTables(db);
    for (const table of tocsinTables) expect(tables).toContain(table);

    expect(await migrateToLatest(db)).toEqual([]);
    expect(await publicTables(db)).toEqual(tables);
  });

  it('migrates all the way down and up again', async () => {
    const down = await makeMigrator(db).migrateTo(NO_MIGRATIONS);
    expect(down.error).toBeUndefined();
    expect(down.results?.map((r) => [r.migrationName, r.direction, r.status])).toEqual(
      [...migrationNames].reverse().map((name) => [name, 'Down', 'Success']),
    );
    const left = await publicTables(db);
    for (const table of tocsinTables) expect(left).not.toContain(table);

    expect(await migrateToLatest(db)).toEqual(migrationNames);
    const tables = await publicTables(db);
    for (const table of tocsinTables) expect(tables).toContain(table);
  });
});

function runMigrate(databaseUrl: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tracingHook, mainScript, 'migrate'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('tocsin migrate (the real process)', () => {
  it('applies the migrations to an empty database, then finds it up to date', async () => {
    const database = await emptyDatabase();

    const first = await runMigrate(database.url);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`applied ${migrationNames.join(', ')}`);

    const second = await runMigrate(database.url);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('database is up to date');
    expect(second.stdout).not.toContain('applied');
  });
});

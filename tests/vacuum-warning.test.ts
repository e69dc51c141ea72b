// An operator-proof install (SPEC section 1): a worker started on a server whose autovacuum is
// off, or on a database where one of Tocsin's busy tables has it off, says so in its log, once,
// at start-up; nothing is said when autovacuum looks after every busy table. Against a
// PostgreSQL of the test's own, because the setting is the server's.
import { Writable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vacuumWarning } from '../src/adapters/postgres/vacuum-check.ts';
import { loadConfig } from '../src/config.ts';
import { makeLogger } from '../src/logger.ts';
import { startService } from '../src/service.ts';
import { startPrivatePostgres, type PrivatePostgres } from './helpers/private-postgres.ts';
import { databaseUrl } from './helpers/urls.ts';

let postgres: PrivatePostgres;
let admin: pg.Client;
let url: string;

beforeAll(async () => {
  postgres = await startPrivatePostgres({ maxConnections: 50 });
  admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  await admin.query('create database tocsin_vacuum');
  url = databaseUrl(postgres.url, 'tocsin_vacuum');
}, 60_000);

afterAll(async () => {
  await admin?.end();
  await postgres?.destroy();
});

/** Starts and stops a worker process's service; returns its warnings about autovacuum. */
async function startUpWarnings(): Promise<{ msg: string; autovacuum: boolean; autovacuum_off_tables: string[] }[]> {
  const lines: string[] = [];
  const capture = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  const service = await startService({ role: 'worker', config: loadConfig({ DATABASE_URL: url }), logger: makeLogger('warn', capture), databaseUrl: url });
  await service.close();
  return lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 40 && 'autovacuum' in entry);
}

/** As an operator would (a command-line -c would outrank ALTER SYSTEM). */
async function setServerAutovacuum(value: 'on' | 'off') {
  await admin.query(`alter system set autovacuum = ${value}`);
  await admin.query('select pg_reload_conf()');
  for (let i = 0; i < 100; i++) {
    if ((await admin.query('show autovacuum')).rows[0].autovacuum === value) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`autovacuum did not become ${value}`);
}

describe('autovacuum warning', () => {
  it('warns once at start-up when the server runs with autovacuum off', async () => {
    await setServerAutovacuum('off');
    const warnings = await startUpWarnings();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.autovacuum).toBe(false);
    expect(warnings[0]!.msg).toMatch(/autovacuum is off on this server.*VACUUM ANALYZE/);
  }, 60_000);

  it('says nothing once autovacuum is on', async () => {
    await setServerAutovacuum('on');
    expect(await startUpWarnings()).toEqual([]);
  }, 60_000);

  it('names the busy tables whose own autovacuum_enabled is off', async () => {
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      await db.query('alter table notifications set (autovacuum_enabled = false)');
      await db.query('alter table pgboss.job_common set (autovacuum_enabled = off)');
      const warnings = await startUpWarnings();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.autovacuum).toBe(true);
      expect(warnings[0]!.autovacuum_off_tables).toEqual(['notifications', 'pgboss.job_common']);
      expect(warnings[0]!.msg).toMatch(/^Autovacuum is off for notifications, pgboss\.job_common/);
      await db.query('alter table notifications reset (autovacuum_enabled)');
      await db.query('alter table pgboss.job_common reset (autovacuum_enabled)');
      expect(await startUpWarnings()).toEqual([]);
    } finally {
      await db.end();
    }
  }, 60_000);

  it('words the warning for the server before the tables', () => {
    expect(vacuumWarning({ server: true, tablesOff: [] })).toBeUndefined();
    expect(vacuumWarning({ server: false, tablesOff: ['notifications'] })).toMatch(/on this server/);
  });
});

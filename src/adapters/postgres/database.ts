import path from 'node:path';
import { promises as fs } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import { FileMigrationProvider, Migrator } from 'kysely/migration';
import { prepareRepeatedStatements } from './prepared-statements.ts';
import type { DB } from './schema.ts';

export type Database = Kysely<DB>;
export type Executor = Kysely<DB> | Transaction<DB>;

export const migrationsFolder = fileURLToPath(new URL('../../../migrations', import.meta.url));

/**
 * How long one of Tocsin's connections may sit in a transaction waiting for Tocsin (default 60 s).
 * A process that stops mid-transaction (frozen, or cut off from the database by the network,
 * which PostgreSQL would otherwise notice only through TCP keepalives, hours later) holds its row
 * locks, and, if it appended to the change feed, holds back every stream of the database
 * (docs/architecture.md, "the change feed"). No transaction of Tocsin's waits on anything but its
 * own statements, so a minute idle inside one means its process is gone or stuck.
 */
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;

export function makePool(
  connectionString: string,
  max: number,
  options: { preparedStatements?: boolean; idleInTransactionTimeoutMs?: number } = {},
): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    // A dead server must not hang a request forever; pg-boss and the pool reconnect on their own.
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    application_name: 'tocsin',
  });
  // An idle client whose backend was terminated emits 'error' on the pool; without a listener
  // that would crash the process. The next checkout simply gets a fresh connection.
  pool.on('error', () => {});
  // A checked-out client (kysely holds one for each query and for a whole transaction) emits
  // 'error' on itself, not on the pool, and pg-pool removes its own listener while the client is
  // out: a backend terminated mid-query (pg_terminate_backend, a failover, a restart) crashed the
  // process. With this listener the query rejects, the caller sees the error, and the pool drops
  // the dead client on release. Found by tests/delivery-reliability.test.ts (issue 3).
  pool.on('connect', (client) => client.on('error', () => {}));
  // Set per session rather than as a startup parameter, which PgBouncer refuses unless it is
  // listed in its ignore_startup_parameters. Queued before any query the pool's user sends.
  const idleMs = options.idleInTransactionTimeoutMs ?? IDLE_IN_TRANSACTION_TIMEOUT_MS;
  if (idleMs > 0) {
    pool.on('connect', (client) => {
      client.query(`set idle_in_transaction_session_timeout = ${Math.round(idleMs)}`).catch(() => {});
    });
  }
  if (options.preparedStatements ?? true) prepareRepeatedStatements(pool);
  return pool;
}

export function makeDatabase(pool: pg.Pool): Database {
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations see the database untyped
export function makeMigrator(db: Kysely<any>): Migrator {
  return new Migrator({
    db,
    provider: new FileMigrationProvider({ fs, path, migrationFolder: migrationsFolder }),
  });
}

/** Runs every pending migration; throws with the failing migration named. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const { error, results } = await makeMigrator(db).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`migration ${failed ?? '(unknown)'} failed`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

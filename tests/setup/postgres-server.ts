import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadEmbeddedPostgres } from '../../src/adapters/postgres/embedded-postgres.ts';
import { freePort } from '../../src/adapters/free-port.ts';

/**
 * The PostgreSQL the suite runs against, in order of preference (SPEC section 1):
 * TEST_DATABASE_URL, else a testcontainers container if a container runtime answers, else an
 * embedded PostgreSQL in a temporary folder. The database is never mocked.
 */
export interface TestServer {
  /** A URL to a database on the server with the right to CREATE DATABASE. */
  url: string;
  kind: 'TEST_DATABASE_URL' | 'testcontainers' | 'embedded-postgres';
  stop(): Promise<void>;
}

async function tryTestcontainers(log: (line: string) => void): Promise<TestServer | undefined> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      getContainerRuntimeClient(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer within 15 s')), 15_000);
      }),
    ]).finally(() => clearTimeout(timer));
  } catch (error) {
    log(`no container runtime (${(error as Error).message.split('\n')[0]}); using embedded PostgreSQL`);
    return undefined;
  }
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const container = await new PostgreSqlContainer('postgres:16-alpine').start();
  return { url: container.getConnectionUri(), kind: 'testcontainers', stop: async () => void (await container.stop()) };
}


async function startEmbedded(): Promise<TestServer> {
  // The temporary folder is enterable by the `postgres` user that runs PostgreSQL when we are root.
  const dir = await mkdtemp(path.join(tmpdir(), 'tocsin-test-pg-'));
  await chmod(dir, 0o755); // mkdtemp makes it owner-only
  const port = await freePort();
  // Loaded without its exit hooks: they call process.exit(0) on beforeExit, which turned a failing
  // test run into exit code 0 (CI would have passed it).
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const postgres = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'fsync=off'],
    onLog: () => {},
  });
  await postgres.initialise();
  await postgres.start();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    kind: 'embedded-postgres',
    stop: async () => {
      await postgres.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function startTestServer(log: (line: string) => void): Promise<TestServer> {
  const given = process.env.TEST_DATABASE_URL;
  if (given) return { url: given, kind: 'TEST_DATABASE_URL', stop: async () => {} };
  return (await tryTestcontainers(log)) ?? (await startEmbedded());
}

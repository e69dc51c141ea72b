import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initCluster, startCluster } from '../../src/adapters/postgres/embedded-postgres.ts';
import { postgresUser, reachableBinaries } from '../../src/adapters/postgres/postgres-home.ts';
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


async function startEmbedded(log: (line: string) => void): Promise<TestServer> {
  // As root, PostgreSQL runs as the `postgres` user: the data goes in a temporary folder of our
  // own that it can enter, and the binaries are copied to /var/lib/tocsin/<checkout id>/ when it
  // cannot reach this checkout (SPEC section 1), as `npm start` does.
  const runAs = process.getuid?.() === 0 ? postgresUser() : undefined;
  const checkout = fileURLToPath(new URL('../..', import.meta.url));
  const { binaries, copied } = await reachableBinaries(checkout, runAs);
  if (copied) log(`the postgres user cannot reach this checkout; PostgreSQL binaries copied to ${copied}`);
  const dir = await mkdtemp(path.join(tmpdir(), 'tocsin-test-pg-'));
  await chmod(dir, 0o755); // mkdtemp makes it owner-only
  const dataDir = path.join(dir, 'data');
  await initCluster({ binaries, dataDir, password: 'postgres', runAs });
  const cluster = await startCluster({
    binaries,
    dataDir,
    port: await freePort(),
    runAs,
    flags: ['-c', 'max_connections=300', '-c', 'fsync=off'],
  });
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${cluster.port}/postgres`,
    kind: 'embedded-postgres',
    stop: async () => {
      await cluster.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function startTestServer(log: (line: string) => void): Promise<TestServer> {
  const given = process.env.TEST_DATABASE_URL;
  if (given) return { url: given, kind: 'TEST_DATABASE_URL', stop: async () => {} };
  return (await tryTestcontainers(log)) ?? (await startEmbedded(log));
}

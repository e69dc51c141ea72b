import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/adapters/free-port.ts';
import { initCluster, startCluster, type Cluster } from '../../src/adapters/postgres/embedded-postgres.ts';
import { postgresUser, reachableBinaries } from '../../src/adapters/postgres/postgres-home.ts';

/**
 * A PostgreSQL server of one's own (the embedded binaries on a free port, data in a temporary
 * folder), for tests and benchmarks that stop and start PostgreSQL: never the shared server.
 * `stop()` is a fast shutdown (connections cut, as in a restart or a failover); `start()` brings
 * the same data back on the same port; `destroy()` stops it for good and removes the data.
 */
export async function startPrivatePostgres(options: { maxConnections?: number } = {}) {
  // As root, PostgreSQL runs as the `postgres` user, which must be able to enter the folder.
  const runAs = process.getuid?.() === 0 ? postgresUser() : undefined;
  const checkout = fileURLToPath(new URL('../..', import.meta.url));
  const { binaries } = await reachableBinaries(checkout, runAs);
  const dir = await mkdtemp(path.join(tmpdir(), 'tocsin-private-pg-'));
  await chmod(dir, 0o755);
  const dataDir = path.join(dir, 'data');
  const port = await freePort();
  await initCluster({ binaries, dataDir, password: 'postgres', runAs });
  const start = () =>
    startCluster({ binaries, dataDir, port, runAs, flags: ['-c', `max_connections=${options.maxConnections ?? 200}`, '-c', 'fsync=off'] });
  let cluster: Cluster | undefined = await start();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      await cluster?.stop();
      cluster = undefined;
    },
    async start() {
      cluster = await start();
    },
    isRunning: () => cluster !== undefined,
    async destroy() {
      await cluster?.stop();
      cluster = undefined;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export type PrivatePostgres = Awaited<ReturnType<typeof startPrivatePostgres>>;

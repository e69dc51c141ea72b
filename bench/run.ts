// `npm run bench` (SPEC section 9): every figure measured in one run on one PostgreSQL, each
// beside its baseline. `npm run bench -- --quick` is a smaller run for a quick look (< 60 s).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, totalmem } from 'node:os';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { startTestServer } from '../tests/setup/postgres-server.ts';
import { databaseUrl } from '../tests/helpers/urls.ts';
import { freePort } from '../src/adapters/free-port.ts';
import { watchStream } from './stream-watchers.ts';

const quick = process.argv.includes('--quick');
// Issue 12: SSE clients connected to an API process while the worker drains the delivery backlog
// (the target: delivery no more than 5% slower than with none; --stream-clients=0 measures that).
const streamClients = Number(process.argv.find((a) => a.startsWith('--stream-clients='))?.split('=')[1] ?? 100);
const size = quick
  ? { backlog: 5_000, latencySeconds: 5, ingestSeconds: 4 }
  : { backlog: 20_000, latencySeconds: 20, ingestSeconds: 10 };
const root = fileURLToPath(new URL('..', import.meta.url));
const adminKey = 'bench-admin-key-0123456789';
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => performance.timeOrigin + performance.now();

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
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

async function startTocsin(role: 'all' | 'api' | 'worker', dbUrl: string): Promise<Service> {
  const port = await freePort();
  // BENCH_PROFILE=dir writes a CPU profile of every service process there (node --cpu-prof).
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
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

    // 1. The bare queue.
    log(`queue baseline: ${size.backlog} jobs, no-op handler`);
    // Tuned alike: the same batch size and concurrency as Tocsin's workers use by default.
    const tuning = loadConfig({});
    const baseline = await runJson<{ jobs_per_s: number }>(['bench/queue-baseline.ts'], {
      DATABASE_URL: dbUrl,
      JOBS: String(size.backlog),
      BATCH_SIZE: String(tuning.WORKER_BATCH_SIZE),
      CONCURRENCY: String(tuning.WORKER_CONCURRENCY),
    });

    await db.query('vacuum analyze'); // as between the later phases: settle the baseline's churn

    // 2. Delivery: a backlog made through the batch API, then drained by one worker process.
    log(`delivery: ${size.backlog} notifications through the batch API, then one worker`);
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
    peak('api', api.peakRssMb());
    // With stream clients, the API stays up with them connected while the worker drains.
    const watchers = streamClients > 0 ? await watchStream(api.url, adminKey, streamClients) : undefined;
    if (!watchers) await api.stop();
    arrivals = 0;
    firstArrival = 0;
    const worker = await startTocsin('worker', dbUrl);
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
    const drainSeconds = (sentAt - firstArrival) / 1000;
    const delivery = { seconds: drainSeconds, jobs_per_s: size.backlog / drainSeconds, duplicates: arrivals - size.backlog };
    peak('worker', worker.peakRssMb());
    await worker.stop();
    const watched = await watchers?.report();
    if (watchers) await api.stop();

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
    log(`latency: POST /v1/notifications at 100/s for ${size.latencySeconds} s after a 2 s warm-up`);
    latencies.length = 0;
    const latencyLoad = await runJson<{ requests: number; non2xx: number; response_p50_ms: number; response_p99_ms: number }>(['bench/paced-load.ts', JSON.stringify({
      url: all.url, path: '/v1/notifications', key: adminKey, rate: 100, duration: size.latencySeconds, warmup: 2, receiver: receiverUrl,
    })], {});
    const deadline = Date.now() + 10_000;
    while (latencies.length < latencyLoad.requests - latencyLoad.non2xx && Date.now() < deadline) await sleep(20);
    const sortedLatency = [...latencies].sort((a, b) => a - b);

    log(`ingest: POST /v1/incidents, 32 connections, ${size.ingestSeconds} s`);
    const ingest = await runJson<{ rps: number; p99_ms: number; non2xx: number; errors: number }>(['bench/load-generator.ts', JSON.stringify({
      url: all.url, path: '/v1/incidents', key: adminKey, connections: 32, duration: size.ingestSeconds, body: 'incident',
    })], {});
    peak('all', all.peakRssMb());
    await all.stop();

    const barePort = await freePort();
    const bare = spawn(process.execPath, ['bench/bare-ingest-server.ts'], { cwd: root, env: { ...process.env, DATABASE_URL: dbUrl, PORT: String(barePort) }, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => bare.stdout!.once('data', () => resolve()));
    const bareIngest = await runJson<{ rps: number; p99_ms: number }>(['bench/load-generator.ts', JSON.stringify({
      url: `http://127.0.0.1:${barePort}`, path: '/bare', key: 'none', connections: 32, duration: size.ingestSeconds, body: 'bare',
    })], {});
    bare.kill('SIGTERM');

    const results = {
      quick,
      machine: { cores: cpus().length, cpu: cpus()[0]?.model, memory_gb: Math.round(totalmem() / 2 ** 30), node: process.version, postgres: pgVersion, postgres_source: server.kind },
      queue_baseline_jobs_per_s: Math.round(baseline.jobs_per_s),
      delivery_jobs_per_s: Math.round(delivery.jobs_per_s),
      delivery_ratio_to_baseline: +(delivery.jobs_per_s / baseline.jobs_per_s).toFixed(3),
      delivery_duplicates: delivery.duplicates,
      delivery_stream_clients: streamClients,
      delivery_stream_events_seen: watched?.events ?? 0,
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
      ingest_rps: Math.round(ingest.rps),
      ingest_p99_ms: ingest.p99_ms,
      ingest_errors: ingest.non2xx + ingest.errors,
      ingest_baseline_rps: Math.round(bareIngest.rps),
      ingest_baseline_p99_ms: bareIngest.p99_ms,
      ingest_ratio_to_baseline: +(ingest.rps / bareIngest.rps).toFixed(3),
      rss_mb: Math.max(...Object.values(peaks)),
      rss_mb_by_role: peaks,
      targets: {
        delivery_ratio_at_least: 0.5,
        latency_ms_p50_at_most: 15,
        latency_ms_p99_at_most: 50,
        ingest_rps_at_least: 1500,
        ingest_ratio_at_least: 0.6,
        ingest_p99_ms_below: 50,
        rss_mb_below: 300,
        stream_fanout_ms_p99_at_most: 250,
      },
      seconds: Math.round((Date.now() - started) / 1000),
    };
    writeFileSync(new URL('results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);

    const rows: [string, string, string, string, string][] = [
      ['figure', 'tocsin', 'baseline', 'ratio', 'target'],
      ['delivery (jobs/s)', String(results.delivery_jobs_per_s), String(results.queue_baseline_jobs_per_s), String(results.delivery_ratio_to_baseline), '>= 0.5 of baseline'],
      ['latency p50 (ms)', String(results.latency_ms_p50), '', '', '<= 15'],
      ['latency p99 (ms)', String(results.latency_ms_p99), '', '', '<= 50'],
      ['ingest (req/s)', String(results.ingest_rps), String(results.ingest_baseline_rps), String(results.ingest_ratio_to_baseline), '>= 1500 and >= 0.6'],
      ['ingest p99 (ms)', String(results.ingest_p99_ms), String(results.ingest_baseline_p99_ms), '', '< 50'],
      ['stream fan-out p99 (ms)', String(results.stream_fanout_ms_p99), '', '', '<= 250'],
      ['peak RSS (MB)', String(results.rss_mb), '', '', '< 300'],
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const row of rows) process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')}\n`);
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

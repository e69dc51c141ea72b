// What tracing costs (SPEC section 12, issue 16): `node bench/tracing-cost.ts [--rounds=N]
// [--ingest-seconds=S]` with DATABASE_URL or TEST_DATABASE_URL naming a PostgreSQL server.
// 1. Start-up, `npm start`'s `all` role until /health answers, in three variants taken in turn:
//    no hook at all, the hook with OTEL_EXPORTER_OTLP_ENDPOINT unset, and tracing on.
// 2. Ingest, POST /v1/incidents from autocannon in its own process, untraced then traced.
// Traces go to an OTLP/HTTP receiver in this process that reads and discards them.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from '../src/adapters/free-port.ts';
import { databaseUrl } from '../tests/helpers/urls.ts';

const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const rounds = arg('rounds', 10);
const ingestSeconds = arg('ingest-seconds', 10);
const ingestRounds = arg('ingest-rounds', 3);
// --rate=N holds the load at N requests per second (both variants do the same work) instead
// of as fast as the service answers.
const rate = arg('rate', 0);
const root = fileURLToPath(new URL('..', import.meta.url));
const adminKey = 'bench-admin-key-0123456789';
const log = (line: string) => process.stderr.write(`[tracing-cost] ${line}\n`);
const hook = '--import=./src/adapters/telemetry/register.ts';
const ticksPerSecond = 100; // USER_HZ on Linux

type Variant = 'no hook' | 'hook, tracing off' | 'tracing on';

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

function procStatus(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  // utime and stime are fields 14 and 15 of /proc/pid/stat, after the parenthesised name.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const cpuMs = ((Number(stat[11]) + Number(stat[12])) / ticksPerSecond) * 1000;
  return { rssMb: kb('VmRSS') / 1024, cpuMs };
}

async function startTocsin(variant: Variant, dbUrl: string, otlpUrl: string) {
  const port = await freePort();
  const flags = ['--max-semi-space-size=8', ...(variant === 'no hook' ? [] : [hook])];
  const env: Record<string, string | undefined> = { ...process.env, DATABASE_URL: dbUrl, PORT: String(port), ADMIN_API_KEY: adminKey, LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '1000000' };
  delete env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (variant === 'tracing on') Object.assign(env, { OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' });
  const started = performance.now();
  const child = spawn(process.execPath, [...flags, 'src/main.ts', 'all'], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`tocsin (${variant}) exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const readyMs = performance.now() - started;
  const { rssMb, cpuMs } = procStatus(child.pid!);
  return {
    url,
    readyMs,
    rssMb,
    cpuMs,
    /** CPU time the process has used so far, in ms. */
    cpuNow: () => procStatus(child.pid!).cpuMs,
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) throw new Error(`tocsin (${variant}) stopped with ${code}`);
    },
  };
}

function ingest(url: string): Promise<{ rps: number; p99_ms: number; non2xx: number; errors: number }> {
  const job = JSON.stringify({ url, path: '/v1/incidents', key: adminKey, connections: 32, duration: ingestSeconds, body: 'incident', ...(rate ? { overallRate: rate } : {}) });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bench/load-generator.ts', job], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!)) : reject(new Error(`load generator exited ${code}`))));
  });
}

async function main() {
  const server = process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (!server) throw new Error('set DATABASE_URL or TEST_DATABASE_URL to a PostgreSQL server');
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  const dbName = `tocsin_tracing_cost_${Date.now()}`;
  await admin.query(`create database ${dbName}`);
  const dbUrl = databaseUrl(server, dbName);

  let exportedBytes = 0;
  const receiver = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => (exportedBytes += chunk.length));
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const otlpUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  try {
    // The first start applies the migrations; it is not measured.
    await (await startTocsin('no hook', dbUrl, otlpUrl)).stop();
    const variants: Variant[] = ['no hook', 'hook, tracing off', 'tracing on'];
    const startups = new Map<Variant, { readyMs: number; cpuMs: number; rssMb: number }[]>(variants.map((v) => [v, []]));
    for (let round = 0; round < rounds; round++) {
      for (const variant of variants) {
        const tocsin = await startTocsin(variant, dbUrl, otlpUrl);
        startups.get(variant)!.push({ readyMs: tocsin.readyMs, cpuMs: tocsin.cpuMs, rssMb: tocsin.rssMb });
        await tocsin.stop();
      }
      log(`start-up round ${round + 1}/${rounds}`);
    }
    const startup = rounds === 0 ? {} : Object.fromEntries(
      variants.map((variant) => {
        const runs = startups.get(variant)!;
        return [variant, { ready_ms: Math.round(median(runs.map((r) => r.readyMs))), cpu_ms: Math.round(median(runs.map((r) => r.cpuMs))), rss_mb: +median(runs.map((r) => r.rssMb)).toFixed(1) }];
      }),
    );

    // Throughput on a shared machine swings with its load, so the service's own CPU time per
    // request is measured too: the ratio that matters when the service is the bottleneck.
    const runs: Record<string, { rps: number; cpuMsPerRequest: number }[]> = { 'hook, tracing off': [], 'tracing on': [] };
    for (let round = 0; round < ingestRounds; round++) {
      for (const variant of ['hook, tracing off', 'tracing on'] as const) {
        const tocsin = await startTocsin(variant, dbUrl, otlpUrl);
        const cpuBefore = tocsin.cpuNow();
        const result = await ingest(tocsin.url);
        const cpuMsPerRequest = (tocsin.cpuNow() - cpuBefore) / (result.rps * ingestSeconds);
        await tocsin.stop();
        if (result.non2xx + result.errors > 0) throw new Error(`ingest (${variant}): ${result.non2xx} non-2xx, ${result.errors} errors`);
        runs[variant]!.push({ rps: result.rps, cpuMsPerRequest });
        log(`ingest ${variant}: ${Math.round(result.rps)} req/s, p99 ${result.p99_ms} ms, ${cpuMsPerRequest.toFixed(2)} ms CPU per request`);
      }
    }
    const figure = (variant: Variant, pick: (run: { rps: number; cpuMsPerRequest: number }) => number) => median(runs[variant]!.map(pick));
    const untraced = figure('hook, tracing off', (run) => run.rps);
    const traced = figure('tracing on', (run) => run.rps);
    const untracedCpu = figure('hook, tracing off', (run) => run.cpuMsPerRequest);
    const tracedCpu = figure('tracing on', (run) => run.cpuMsPerRequest);
    const results = {
      rounds,
      startup,
      ingest_untraced_rps: Math.round(untraced),
      ingest_traced_rps: Math.round(traced),
      ingest_tracing_overhead: +(traced / untraced).toFixed(3),
      ingest_untraced_cpu_ms_per_request: +untracedCpu.toFixed(3),
      ingest_traced_cpu_ms_per_request: +tracedCpu.toFixed(3),
      ingest_tracing_overhead_by_cpu: +(untracedCpu / tracedCpu).toFixed(3),
      exported_mb: +(exportedBytes / 1024 / 1024).toFixed(1),
    };
    process.stdout.write(`${JSON.stringify(results)}\n`);
  } finally {
    receiver.close();
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  }
}

await main();

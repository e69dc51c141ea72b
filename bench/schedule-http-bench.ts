// `GET /v1/schedules/:id/final` over HTTP (SPEC 11, issue 15): a 93-day window of a 5-layer
// schedule (the layers of bench/schedule-bench.ts, with real users) with 20 overrides in the
// window, in Europe/Berlin, requested one after another over a keep-alive connection. Reports
// the median and p99 of the request (client send to last byte), beside the pure computation.
//
//   npm run bench:schedule-http   (REQUESTS=n to change the count; default 400)
//
// Runs the API in this process against TEST_DATABASE_URL / DATABASE_URL's server (else an
// embedded PostgreSQL), in a database of its own that is dropped at the end.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { request } from 'undici';
import { freePort } from '../src/adapters/free-port.ts';
import { readerOf } from '../src/adapters/postgres/transact.ts';
import { createApiKey } from '../src/adapters/postgres/api-key-store.ts';
import { loadConfig } from '../src/config.ts';
import { finalSchedule } from '../src/domain/schedule-final.ts';
import { makeLogger } from '../src/logger.ts';
import { startService } from '../src/service.ts';
import { startTestServer } from '../tests/setup/postgres-server.ts';
import { databaseUrl } from '../tests/helpers/urls.ts';

const REQUESTS = Number(process.env.REQUESTS ?? 400);
const DAY = 86_400_000;
const log = (line: string) => process.stderr.write(`[bench:schedule-http] ${line}\n`);
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

process.env.TEST_DATABASE_URL ??= process.env.DATABASE_URL;
const server = await startTestServer(log);
const name = `tocsin_bench_schedule_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: server.url });
await admin.connect();
await admin.query(`create database ${name}`);
const url = databaseUrl(server.url, name);
const port = await freePort();
const service = await startService({ role: 'api', config: loadConfig({ DATABASE_URL: url, PORT: String(port), RATE_LIMIT_MAX: '1000000' }), logger: makeLogger('warn'), databaseUrl: url });
await service.app!.listen({ port, host: '127.0.0.1' });
const base = `http://127.0.0.1:${port}`;
const key = (await createApiKey(readerOf(service.db), { name: 'bench', scopes: ['write'] })).key;
const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };

async function call(method: 'GET' | 'POST', path: string, body?: unknown) {
  const response = await request(`${base}${path}`, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}) });
  const text = await response.body.text();
  if (response.statusCode >= 300) throw new Error(`${method} ${path}: ${response.statusCode} ${text}`);
  return text;
}

try {
  const ids: Record<string, string> = {};
  for (const user of ['ann', 'bob', 'cy', 'dee', 'eve', 'fay', 'gus', 'hal', 'ivy', 'jon', 'kim', 'lou', 'max', 'ned', 'oli', 'pat', 'quin', 'zed', 'yan']) {
    ids[user] = JSON.parse(await call('POST', '/v1/users', { name: user, email: `${user}@example.com` })).id;
  }
  const users = (names: string[]) => names.map((n) => ids[n]!);
  const layers = [
    { name: 'primary', user_ids: users(['ann', 'bob', 'cy', 'dee']), start: '2025-01-05T09:00', turn: { count: 1, unit: 'week' } },
    { name: 'secondary', user_ids: users(['eve', 'fay', 'gus']), start: '2025-01-01T02:30', turn: { count: 1, unit: 'day' } },
    { name: 'business hours', user_ids: users(['hal', 'ivy', 'jon', 'kim', 'lou']), start: '2025-01-05T09:00', turn: { count: 2, unit: 'day' }, restrictions: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }] },
    { name: 'nights', user_ids: users(['max', 'ned', 'oli']), start: '2025-01-01T22:00', turn: { count: 12, unit: 'hour' }, restrictions: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '22:00', end: '06:00' }] },
    { name: 'weekends', user_ids: users(['pat', 'quin']), start: '2025-01-03T10:00', turn: { count: 1, unit: 'week' }, restrictions: [{ days: ['sat'], start: '10:00', end: '10:00' }, { days: ['sun'], start: '10:00', end: '22:00' }] },
  ];
  const schedule = JSON.parse(await call('POST', '/v1/schedules', { name: 'bench', time_zone: 'Europe/Berlin', layers }));
  // A window across the spring change, with 20 overrides of 1 to 48 hours spread through it.
  const since = Date.UTC(2026, 2, 1);
  const until = since + 93 * DAY;
  for (let i = 0; i < 20; i++) {
    const start = since + Math.floor(((i * 7919) % 89) * DAY + (i % 24) * 3_600_000);
    await call('POST', `/v1/schedules/${schedule.id}/overrides`, { user_id: users(['ann', 'zed', 'yan'])[i % 3], start: new Date(start).toISOString(), end: new Date(start + (1 + ((i * 13) % 48)) * 3_600_000).toISOString() });
  }
  const path = `/v1/schedules/${schedule.id}/final?since=${new Date(since).toISOString()}&until=${new Date(until).toISOString()}`;
  const entries = JSON.parse(await call('GET', path)).entries.length;
  for (let i = 0; i < 50; i++) await call('GET', path); // warm: JIT, pools, the zone-offset memo

  const timed = async (target: string) => {
    const times: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const started = performance.now();
      await call('GET', target);
      times.push(performance.now() - started);
    }
    return times.sort((a, b) => a - b);
  };
  const times = await timed(path);
  // A baseline on the same connection: the schedule itself (one query, a small body, no computation).
  const plain = await timed(`/v1/schedules/${schedule.id}`);

  // The computation alone, on the same schedule and overrides, in this process.
  const overrides = JSON.parse(await call('GET', `/v1/schedules/${schedule.id}/overrides?limit=100`)).data.map((o: Record<string, string>) => ({
    id: o.id, user_id: o.user_id, start: new Date(o.start!), end: new Date(o.end!), created_at: new Date(o.created_at!),
  }));
  const compute: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const started = performance.now();
    finalSchedule({ time_zone: 'Europe/Berlin', layers: schedule.layers }, overrides, new Date(since), new Date(until));
    compute.push(performance.now() - started);
  }
  compute.sort((a, b) => a - b);

  const result = {
    requests: REQUESTS,
    entries,
    http_median_ms: Number(percentile(times, 50).toFixed(3)),
    http_p99_ms: Number(percentile(times, 99).toFixed(3)),
    plain_get_median_ms: Number(percentile(plain, 50).toFixed(3)),
    plain_get_p99_ms: Number(percentile(plain, 99).toFixed(3)),
    compute_median_ms: Number(percentile(compute, 50).toFixed(3)),
    compute_p99_ms: Number(percentile(compute, 99).toFixed(3)),
  };
  log(`Node ${process.versions.node}; ${REQUESTS} sequential GET ${path.replace(schedule.id, ':id')} (${entries} entries)`);
  log(`HTTP: median ${result.http_median_ms} ms, p99 ${result.http_p99_ms} ms; the computation alone: median ${result.compute_median_ms} ms, p99 ${result.compute_p99_ms} ms`);
  log(`baseline GET /v1/schedules/:id on the same connection: median ${result.plain_get_median_ms} ms, p99 ${result.plain_get_p99_ms} ms`);
  console.log(JSON.stringify(result));
} finally {
  await service.close();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.end();
  await server.stop();
}

// The `scale` figures (SPEC section 9): the reads users make all day, and ingest, on a database
// holding years of history (bench/scale-fill.ts), in a database of its own.
// - reads: one client over one keep-alive connection, requests one after another (so each figure
//   is the service's and PostgreSQL's time, not queueing), after a warm-up round; terms and
//   filters vary so that one cached answer is not what is measured.
// - ingest: POST /v1/incidents at 32 connections (as the ingest figure) on the full database and on
//   an empty one, taken in turn (full, empty, full, empty; full, empty with --quick) so the
//   machine's other work weighs on both alike; the ratio of the best of each is the figure.
import type { Pool } from 'undici';
import { Pool as UndiciPool } from 'undici';
import pg from 'pg';
import { databaseUrl } from '../tests/helpers/urls.ts';
import { fillScale, type FillResult } from './scale-fill.ts';

interface Service {
  url: string;
  stop(): Promise<void>;
}

export interface ScaleDeps {
  serverUrl: string;
  quick: boolean;
  ingestSeconds: number;
  startTocsin(role: 'all', dbUrl: string): Promise<Service>;
  migrate(dbUrl: string): Promise<void>;
  ingest(url: string): Promise<{ rps: number; p99_ms: number; non2xx: number; errors: number }>;
  log(line: string): void;
}

export interface ScaleResult {
  incidents: number;
  notifications: number;
  fill: FillResult;
  list_ms_p50: number;
  list_ms_p99: number;
  search_ms_p50: number;
  search_ms_p99: number;
  get_ms_p50: number;
  get_ms_p99: number;
  metrics_ms_p50: number;
  metrics_ms_p99: number;
  ingest_rps: number;
  ingest_empty_rps: number;
  ingest_ratio_to_empty: number;
  ingest_p99_ms: number;
}

const md5uuid = async (db: pg.Client, text: string) => (await db.query<{ id: string }>('select md5($1)::uuid::text as id', [text])).rows[0]!.id;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** Times `rounds` passes over `paths` (GETs, one at a time), after one pass of warm-up. */
async function timeReads(pool: Pool, key: string, paths: string[], rounds: number): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  for (let round = -1; round < rounds; round++) {
    for (const path of paths) {
      const started = performance.now();
      const response = await pool.request({ method: 'GET', path, headers: { authorization: `Bearer ${key}` } });
      await response.body.dump();
      if (response.statusCode !== 200) throw new Error(`GET ${path} answered ${response.statusCode}`);
      if (round >= 0) times.push(performance.now() - started);
    }
  }
  times.sort((a, b) => a - b);
  return { p50: +percentile(times, 50).toFixed(1), p99: +percentile(times, 99).toFixed(1) };
}

export async function runScale(deps: ScaleDeps, adminKey: string): Promise<ScaleResult> {
  const incidents = deps.quick ? 100_000 : 1_000_000;
  const admin = new pg.Client({ connectionString: deps.serverUrl });
  await admin.connect();
  const stamp = Date.now();
  const fullName = `tocsin_bench_scale_${stamp}`;
  const emptyName = `tocsin_bench_empty_${stamp}`;
  await admin.query(`create database ${fullName}`);
  await admin.query(`create database ${emptyName}`);
  const fullUrl = databaseUrl(deps.serverUrl, fullName);
  const emptyUrl = databaseUrl(deps.serverUrl, emptyName);
  const db = new pg.Client({ connectionString: fullUrl });
  try {
    await Promise.all([deps.migrate(fullUrl), deps.migrate(emptyUrl)]);
    deps.log(`scale: filling ${incidents.toLocaleString('en')} incidents, ${(incidents * 5).toLocaleString('en')} notifications`);
    const fill = await fillScale(fullUrl, incidents, deps.log);
    deps.log(`scale: filled in ${fill.seconds} s`);
    await db.connect();

    const runs: Record<'empty' | 'full', { rps: number; p99_ms: number }[]> = { empty: [], full: [] };
    const ingestOn = async (which: 'empty' | 'full', service: Service) => {
      const result = await deps.ingest(service.url);
      if (result.non2xx + result.errors > 0) throw new Error(`scale ingest (${which}): ${result.non2xx} non-2xx, ${result.errors} errors`);
      runs[which].push(result);
      deps.log(`scale ingest on the ${which} database: ${Math.round(result.rps)} req/s, p99 ${result.p99_ms} ms`);
    };

    const tocsin = await deps.startTocsin('all', fullUrl);
    const pool = new UndiciPool(tocsin.url, { connections: 1 });
    let reads: Record<'list' | 'search' | 'get' | 'metrics', { p50: number; p99: number }>;
    try {
      const teams: string[] = [];
      for (const n of [1, 7, 13]) teams.push(await md5uuid(db, `team${n}`));
      const ids: string[] = [];
      for (let k = 0; k < 20; k++) ids.push(await md5uuid(db, `i${1 + Math.floor((((k * 7919) % 1000) / 1000) * incidents)}`));
      const year = new Date(Date.now() - 365 * 86_400_000);
      const day = (d: Date) => d.toISOString().slice(0, 10);
      // What a console and a script ask for: open or acknowledged work, a team's incidents, a
      // severity, and a day long ago.
      const lists = [
        '/v1/incidents?status=open',
        '/v1/incidents?status=acknowledged',
        `/v1/incidents?team_id=${teams[0]}&status=open`,
        `/v1/incidents?team_id=${teams[1]}`,
        '/v1/incidents?severity=P1',
        '/v1/incidents?severity=P2&status=resolved',
        `/v1/incidents?team_id=${teams[2]}&severity=P1`,
        `/v1/incidents?from=${day(year)}T00:00:00Z&to=${day(year)}T23:59:59Z`,
        `/v1/incidents?severity=P3&from=${day(year)}T00:00:00Z&to=${day(year)}T23:59:59Z`,
        '/v1/incidents?status=resolved&limit=100',
      ];
      // One word matches a tenth of the rows, two words a hundred-and-twentieth, three a few hundred
      // in a million, a host name a five-thousandth; and a word found nowhere.
      const searches = [
        'checkout', 'payments', 'billing latency', 'checkout "replication lag"', 'search disk', 'login dns prometheus',
        'inventory cpu datadog', 'host-1234', 'host-77 payments', 'nosuchword',
      ].map((q) => `/v1/incidents?q=${encodeURIComponent(q)}`);
      const rounds = deps.quick ? 10 : 20;
      reads = {
        list: await timeReads(pool, adminKey, lists, rounds),
        search: await timeReads(pool, adminKey, searches, rounds),
        get: await timeReads(pool, adminKey, ids.map((id) => `/v1/incidents/${id}`), rounds),
        metrics: await timeReads(pool, adminKey, ['/v1/metrics'], rounds * 5),
      };
      deps.log(`scale reads (p50/p99 ms): list ${reads.list.p50}/${reads.list.p99}, search ${reads.search.p50}/${reads.search.p99}, get ${reads.get.p50}/${reads.get.p99}, metrics ${reads.metrics.p50}/${reads.metrics.p99}`);
      await ingestOn('full', tocsin);
    } finally {
      await pool.close();
      await tocsin.stop();
    }
    // Then the empty database, and (in a full run) both once more, in turn.
    const order: ('empty' | 'full')[] = deps.quick ? ['empty'] : ['empty', 'full', 'empty'];
    for (const which of order) {
      const service = await deps.startTocsin('all', which === 'empty' ? emptyUrl : fullUrl);
      try {
        await ingestOn(which, service);
      } finally {
        await service.stop();
      }
    }
    // The best of each: what the other work on the machine took away least.
    const full = Math.max(...runs.full.map((r) => r.rps));
    const empty = Math.max(...runs.empty.map((r) => r.rps));
    return {
      incidents,
      notifications: incidents * 5,
      fill,
      list_ms_p50: reads.list.p50,
      list_ms_p99: reads.list.p99,
      search_ms_p50: reads.search.p50,
      search_ms_p99: reads.search.p99,
      get_ms_p50: reads.get.p50,
      get_ms_p99: reads.get.p99,
      metrics_ms_p50: reads.metrics.p50,
      metrics_ms_p99: reads.metrics.p99,
      ingest_rps: Math.round(full),
      ingest_empty_rps: Math.round(empty),
      ingest_ratio_to_empty: +(full / empty).toFixed(3),
      ingest_p99_ms: Math.max(...runs.full.map((r) => r.p99_ms)),
    };
  } finally {
    await db.end().catch(() => {});
    await admin.query(`drop database if exists ${fullName} with (force)`).catch(() => {});
    await admin.query(`drop database if exists ${emptyName} with (force)`).catch(() => {});
    await admin.end();
  }
}

// Delivery reliability with real worker processes (issue 3, SPEC section 4): `node src/main.ts
// worker` children against the database of an in-process API, delivering webhooks to a real
// local receiver. A worker is killed with SIGKILL, has its PostgreSQL connections terminated,
// is stopped with SIGTERM, and runs two at a time. Every wait polls with a deadline; the only
// sleeps are the receiver's own answer delays, which keep deliveries in flight.
import { createHmac } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually, startHttpReceiver, type HttpReceiver, type Received } from './helpers/receivers.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';
import { killAllWorkers, startWorkerProcess, type Exit, type WorkerProcess } from './helpers/worker-process.ts';

// Two signing secrets: workers that sign with different ones tell the receiver who delivered what.
const secrets = {
  a: `whsec_${Buffer.from('reliability secret A, 32 bytes!!').toString('base64')}`,
  b: `whsec_${Buffer.from('reliability secret B, 32 bytes!!').toString('base64')}`,
};

let t: TestApp;
let hook: HttpReceiver;

beforeEach(async () => {
  // A database per test: a test's leftovers (a backlog, rate windows) never reach the next one.
  [t, hook] = await Promise.all([
    startTestApp({ role: 'api', env: { RATE_LIMIT_MAX: '100000', ALLOW_PRIVATE_TARGETS: 'true' } }),
    startHttpReceiver(),
  ]);
});

afterEach(async () => {
  await killAllWorkers();
  await hook?.close();
  await t?.close();
});

function startWorker(env: Record<string, string> = {}): Promise<WorkerProcess> {
  return startWorkerProcess({
    DATABASE_URL: t.databaseUrl,
    ALLOW_PRIVATE_TARGETS: 'true',
    RETRY_BACKOFF: '100ms',
    WEBHOOK_SIGNING_SECRET: secrets.a,
    CHANNEL_RATE_LIMIT_PER_SECOND: '1000',
    WORKER_BATCH_SIZE: '10',
    WORKER_CONCURRENCY: '2',
    ...env,
  });
}

/** Waits for a process that should stop on its own; SIGKILLs it if it has not within `ms`. */
async function exitWithin(worker: WorkerProcess, ms: number): Promise<Exit> {
  const timer = setTimeout(() => worker.child.kill('SIGKILL'), ms);
  try {
    return await worker.exited;
  } finally {
    clearTimeout(timer);
  }
}

const idOf = (request: Received) => request.headers['webhook-id'] as string;

/**
 * The receiver answers 200 after `ms()` milliseconds, so deliveries are in flight for that long.
 * Returns the requests it is still holding.
 */
function answerAfter(receiver: HttpReceiver, ms: () => number): Set<Received> {
  const inFlight = new Set<Received>();
  receiver.respond = async (request) => {
    inFlight.add(request);
    await delay(ms());
    inFlight.delete(request);
    return { status: 200, body: '{"ok":true}' };
  };
  return inFlight;
}

/** `count` webhooks to the receiver, accepted in one batch (one transaction). */
async function createWebhooks(count: number): Promise<string[]> {
  const notifications = Array.from({ length: count }, (_, i) => ({ channel: 'webhook', recipient: `${hook.url}/hooks`, content: `message ${i}` }));
  const response = await t.call({ method: 'POST', url: '/v1/notifications/batch', payload: { notifications } });
  expect(response.statusCode, response.body).toBe(201);
  expect(response.json().count).toBe(count);
  return response.json().ids;
}

async function statusCounts(): Promise<Record<string, number>> {
  const rows = await t.db
    .selectFrom('notifications')
    .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]));
}

const allSent = (ids: string[], ms: number) =>
  eventually(async () => {
    const counts = await statusCounts();
    return counts.sent === ids.length ? counts : undefined;
  }, ms, `all ${ids.length} notifications to be sent`);

/** Which of the secrets signed this request (Standard Webhooks: HMAC of "id.timestamp.body"). */
function signer(request: Received): keyof typeof secrets | undefined {
  const timestamp = request.headers['webhook-timestamp'] as string;
  return (Object.keys(secrets) as (keyof typeof secrets)[]).find((name) => {
    const key = Buffer.from(secrets[name].slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key).update(`${idOf(request)}.${timestamp}.${request.body}`).digest('base64');
    return request.headers['webhook-signature'] === `v1,${expected}`;
  });
}

/**
 * Every request is a correctly signed delivery of one of `ids`, its webhook-id the id in its body,
 * and every id arrived at least once. Returns the number of arrivals per id.
 */
function receiptsOf(ids: string[]): Map<string, number> {
  const accepted = new Set(ids);
  const seen = new Map<string, number>();
  for (const request of hook.received) {
    const id = idOf(request);
    expect(accepted.has(id), `an unknown webhook-id ${id}`).toBe(true);
    expect(JSON.parse(request.body).id).toBe(id);
    expect(signer(request), `a bad signature on ${id}`).toBeDefined();
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  expect(ids.filter((id) => !seen.has(id)), 'notifications the receiver never saw').toEqual([]);
  return seen;
}

describe('a worker process killed with SIGKILL', () => {
  it('loses nothing: a new worker delivers every accepted notification, redelivering the dead one\'s in-flight work under the same webhook-id', async () => {
    const inFlight = answerAfter(hook, () => 20 + Math.random() * 30);
    const ids = await createWebhooks(300);
    const first = await startWorker();

    // Kill it mid-stream, while the receiver holds some of its requests unanswered.
    const caught = await eventually(
      () => hook.received.length >= 60 && inFlight.size >= 5 && [...inFlight].map(idOf),
      20_000,
      'deliveries in flight',
    );
    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const killedAt = Date.now();
    // The dead worker's claimed notifications stay `sending` until pg-boss notices its jobs have
    // no heartbeat any more and hands them back.
    const afterKill = await statusCounts();
    expect(afterKill.sending).toBeGreaterThan(0);
    expect(afterKill.sent ?? 0).toBeLessThan(ids.length);

    await startWorker();
    await allSent(ids, 45_000);
    const recoveryMs = Date.now() - killedAt;
    // A crashed worker's notifications must not wait minutes: heartbeatSeconds (10) plus one
    // supervise pass (10 s) bound this.
    expect(recoveryMs).toBeLessThan(30_000);

    const seen = receiptsOf(ids);
    // What the dead worker had on the wire was never recorded as sent, so it went out again.
    for (const id of caught) expect(seen.get(id), `in-flight ${id}`).toBeGreaterThanOrEqual(2);
    console.info(`SIGKILL: ${caught.length} in flight at the kill, ${afterKill.sending} left sending, all ${ids.length} sent ${recoveryMs} ms after the kill; ${hook.received.length - ids.length} duplicate deliveries`);
  }, 60_000);
});

describe('PostgreSQL connections terminated mid-run', () => {
  it('the worker recovers by itself, delivers everything and stays alive', async () => {
    const admin = new pg.Client({ connectionString: t.databaseUrl });
    await admin.connect();
    try {
      answerAfter(hook, () => 10 + Math.random() * 10);
      const ids = await createWebhooks(300);
      const worker = await startWorker();
      const started = Date.now();

      const database = new URL(t.databaseUrl).pathname.slice(1);
      let terminated = 0;
      for (const threshold of [40, 120, 200]) {
        await eventually(() => hook.received.length >= threshold, 30_000, `${threshold} deliveries`);
        const { rows } = await admin.query<{ ok: boolean }>(
          'select pg_terminate_backend(pid) as ok from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
          [database],
        );
        terminated += rows.filter((row) => row.ok).length;
      }
      expect(terminated).toBeGreaterThanOrEqual(3);

      await allSent(ids, 45_000);
      expect(worker.exit, worker.output()).toBeUndefined();
      expect(worker.child.exitCode).toBeNull();
      receiptsOf(ids);
      console.info(`pg_terminate_backend: ${terminated} connections terminated in 3 rounds; all ${ids.length} sent after ${Date.now() - started} ms; ${hook.received.length - ids.length} duplicate deliveries`);
    } finally {
      await admin.end();
    }
  }, 60_000);
});

describe('SIGTERM', () => {
  it('lets in-flight deliveries finish, exits 0, and leaves the rest queued for the next worker', async () => {
    const inFlight = answerAfter(hook, () => 500);
    const ids = await createWebhooks(100);
    const worker = await startWorker();

    const caught = await eventually(
      () => hook.received.length >= 30 && inFlight.size >= 10 && [...inFlight].map(idOf),
      20_000,
      'deliveries in flight',
    );
    worker.child.kill('SIGTERM');
    expect(await exitWithin(worker, 25_000), worker.output()).toEqual({ code: 0, signal: null });

    // The receiver's answers to the in-flight requests reached the worker and were recorded.
    const rows = await t.db.selectFrom('notifications').select(['id', 'status']).where('id', 'in', caught).execute();
    expect(rows.map((row) => row.status)).toEqual(caught.map(() => 'sent'));
    // Nothing half-done: every notification is sent or still queued, none stuck in `sending`,
    // and the worker stopped taking new work.
    const afterStop = await statusCounts();
    expect(Object.keys(afterStop).sort()).toEqual(['queued', 'sent']);
    expect(afterStop.sent! + afterStop.queued!).toBe(ids.length);
    expect(new Set(hook.received.map(idOf)).size).toBe(afterStop.sent);

    await startWorker();
    await allSent(ids, 20_000);
    // A graceful stop redelivers nothing.
    expect([...receiptsOf(ids).values()].every((n) => n === 1)).toBe(true);
    console.info(`SIGTERM: ${caught.length} in flight finished, ${afterStop.sent} sent and ${afterStop.queued} queued at exit`);
  }, 60_000);
});

describe('two worker processes', () => {
  it('deliver each notification exactly once in the normal path, sharing the work', async () => {
    answerAfter(hook, () => Math.random() * 5);
    await Promise.all([startWorker({ WEBHOOK_SIGNING_SECRET: secrets.a }), startWorker({ WEBHOOK_SIGNING_SECRET: secrets.b })]);
    const ids = await createWebhooks(400);
    await allSent(ids, 30_000);

    const seen = receiptsOf(ids);
    expect([...seen.entries()].filter(([, n]) => n > 1), 'notifications delivered twice').toEqual([]);
    expect(hook.received).toHaveLength(ids.length);
    const bySigner = Object.groupBy(hook.received, (request) => signer(request)!);
    expect(bySigner.a?.length, 'deliveries by worker A').toBeGreaterThan(0);
    expect(bySigner.b?.length, 'deliveries by worker B').toBeGreaterThan(0);
  }, 60_000);

  it('hold CHANNEL_RATE_LIMIT_PER_SECOND together: 50/s within 10%', async () => {
    const limit = 50;
    answerAfter(hook, () => 2);
    const env = { CHANNEL_RATE_LIMIT_PER_SECOND: String(limit) };
    await Promise.all([startWorker({ ...env, WEBHOOK_SIGNING_SECRET: secrets.a }), startWorker({ ...env, WEBHOOK_SIGNING_SECRET: secrets.b })]);
    const ids = await createWebhooks(400);
    await allSent(ids, 30_000);
    receiptsOf(ids);

    const arrivals = hook.received.map((request) => request.at).sort((x, y) => x - y);
    const first = arrivals[0]!;
    const last = arrivals.at(-1)!;
    // The limiter counts per wall-clock second, so the first and last seconds of the run are
    // partial: the first can take a full 50 in its last few milliseconds, the last takes whatever
    // is left. A plain count/(last - first) would count that first burst against almost no time
    // and read up to ~60/s. So the rate is measured over the whole seconds strictly inside the
    // run, where the limit alone decides how much goes out. The receiver's clock is the
    // database's (one machine), and the few milliseconds from grant to arrival shift a delivery
    // across a boundary only rarely, which an average over several seconds absorbs. But for the
    // run's first window: the first connections to the receiver, on a machine busy with the rest
    // of the suite, can delay most of what it granted into the next second (seen: 3 arrivals in
    // the first second, 87 in the second), so the average starts a second later. The running
    // total below still counts every second.
    const firstSecond = Math.floor(first / 1000);
    const lastSecond = Math.floor(last / 1000);
    const perSecond = new Map<number, number>();
    for (const at of arrivals) perSecond.set(Math.floor(at / 1000), (perSecond.get(Math.floor(at / 1000)) ?? 0) + 1);
    const inner = [...perSecond.entries()].filter(([second]) => second > firstSecond + 1 && second < lastSecond).map(([, n]) => n);
    const innerSeconds = lastSecond - firstSecond - 2;
    expect(innerSeconds).toBeGreaterThanOrEqual(4);
    const rate = inner.reduce((sum, n) => sum + n, 0) / innerSeconds;
    const endToEnd = (arrivals.length - 1) / ((last - first) / 1000);
    console.info(`rate limit ${limit}/s, two workers: ${rate.toFixed(1)}/s over ${innerSeconds} whole seconds (per second: ${[...perSecond.values()].join(', ')}); (n-1)/(last-first) = ${endToEnd.toFixed(1)}/s`);
    expect(Math.abs(rate - limit) / limit).toBeLessThanOrEqual(0.1);
    // And no burst: by the end of every second of the run, no more had arrived than the limit
    // allows for that many seconds (+10%). A single second can read high when a busy machine (or
    // the first connections to the receiver) delays deliveries granted in the second before past
    // the boundary; a delay only moves arrivals later, so the running total is the fair bound,
    // but for the run's first window: its deliveries may be the ones delayed into the first
    // second the receiver counts (seen at load 11: 60 in that second), so half a window of slack.
    // A burst of two windows in one second still fails.
    let total = 0;
    for (let second = firstSecond; second <= lastSecond; second++) {
      total += perSecond.get(second) ?? 0;
      const seconds = second - firstSecond + 1;
      expect(total, `arrivals by the end of second ${seconds}`).toBeLessThanOrEqual(limit * seconds * 1.1 + limit / 2);
    }

    const bySigner = Object.groupBy(hook.received, (request) => signer(request)!);
    expect(bySigner.a?.length, 'deliveries by worker A').toBeGreaterThan(0);
    expect(bySigner.b?.length, 'deliveries by worker B').toBeGreaterThan(0);

    // A batch waits in its worker for the next window instead of going back to the queue, so the
    // backlog is not re-queued every second: one job per notification, give or take a batch.
    const { rows } = await sql<{ n: string }>`select count(*) as n from pgboss.job where name = 'notify-webhook'`.execute(t.db);
    expect(Number(rows[0]!.n)).toBeLessThanOrEqual(ids.length + 40);
  }, 60_000);
});

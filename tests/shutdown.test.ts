// SPEC section 1: on SIGTERM a process stops taking requests and jobs, lets work in flight finish,
// puts what it claimed but did not start back on the queue, and exits 0 within
// SHUTDOWN_TIMEOUT_SECONDS, even under a backlog or with an upload still in flight. Real
// processes, a real receiver; every wait polls with a deadline.
import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually, startHttpReceiver, type HttpReceiver } from './helpers/receivers.ts';
import { killAllServices, startServiceProcess } from './helpers/service-process.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';
import { killAllWorkers, startWorkerProcess, type Exit, type WorkerProcess } from './helpers/worker-process.ts';

const SHUTDOWN_TIMEOUT_SECONDS = 3;
// What a process may take beyond its deadline to be reaped and reported on a loaded machine.
const SLACK_MS = 4000;

let t: TestApp;
let hook: HttpReceiver;
beforeEach(async () => {
  [t, hook] = await Promise.all([
    startTestApp({ role: 'api', env: { RATE_LIMIT_MAX: '100000', ALLOW_PRIVATE_TARGETS: 'true' } }),
    startHttpReceiver(),
  ]);
});
afterEach(async () => {
  await killAllWorkers();
  await killAllServices();
  await hook?.close();
  await t?.close();
});

/** The time from SIGTERM to the exit, and the exit; SIGKILL if the process outlives `ms`. */
async function stop(process: { child: WorkerProcess['child']; exited: Promise<Exit> }, ms = 30_000) {
  const started = Date.now();
  process.child.kill('SIGTERM');
  const timer = setTimeout(() => process.child.kill('SIGKILL'), ms);
  try {
    const exit = await process.exited;
    return { exit, ms: Date.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

const statusCounts = async (ids: string[]) =>
  Object.fromEntries(
    (await t.db.selectFrom('notifications').select(['status', (eb) => eb.fn.countAll<string>().as('n')]).where('id', 'in', ids).groupBy('status').execute())
      .map((row) => [row.status, Number(row.n)]),
  );

describe('a worker under a backlog', () => {
  it('exits 0 in time, handing what it claimed but had not started back to the queue; the next worker sends each once', async () => {
    const created = await t.call({
      method: 'POST',
      url: '/v1/notifications/batch',
      payload: { notifications: Array.from({ length: 400 }, (_, i) => ({ channel: 'webhook', recipient: `${hook.url}/backlog`, content: `n${i}` })) },
    });
    expect(created.statusCode, created.body).toBe(201);
    const ids: string[] = created.json().ids;
    // 20 a second, batches of 20, 3 in flight: two batches wait (up to 5 s) for the rate limit,
    // holding notifications claimed but not started.
    const worker = await startWorkerProcess({
      DATABASE_URL: t.databaseUrl,
      ALLOW_PRIVATE_TARGETS: 'true',
      CHANNEL_RATE_LIMIT_PER_SECOND: '20',
      WORKER_CONCURRENCY: '3',
      SHUTDOWN_TIMEOUT_SECONDS: String(SHUTDOWN_TIMEOUT_SECONDS),
    });
    await eventually(async () => {
      const counts = await statusCounts(ids);
      return hook.received.length >= 20 && (counts.sending ?? 0) >= 40 && counts;
    }, 20_000, 'a backlog claimed and waiting for the rate limit');

    const before = hook.received.length;
    const { exit, ms } = await stop(worker);
    expect(exit, worker.output()).toEqual({ code: 0, signal: null });
    expect(ms, worker.output()).toBeLessThan(SHUTDOWN_TIMEOUT_SECONDS * 1000 + SLACK_MS);
    // It started nothing after the signal: at most the second's grant it had just started (20),
    // or the next one if the signal came on the second. Waiting out the rate limit instead would
    // have sent 20 a second until its 5 s wait was up.
    expect(hook.received.length - before).toBeLessThanOrEqual(40);

    // Nothing is left claimed: every notification is sent or queued again.
    const afterStop = await statusCounts(ids);
    expect(Object.keys(afterStop).sort(), JSON.stringify(afterStop)).toEqual(['queued', 'sent']);
    expect(afterStop.sent).toBe(new Set(hook.received.map((r) => r.headers['webhook-id'])).size);

    await startWorkerProcess({ DATABASE_URL: t.databaseUrl, ALLOW_PRIVATE_TARGETS: 'true', CHANNEL_RATE_LIMIT_PER_SECOND: '1000' });
    await eventually(async () => (await statusCounts(ids)).sent === ids.length, 30_000, 'every notification sent');
    const perNotification = new Map<string, number>();
    for (const request of hook.received) perNotification.set(String(request.headers['webhook-id']), (perNotification.get(String(request.headers['webhook-id'])) ?? 0) + 1);
    expect(perNotification.size).toBe(ids.length);
    expect([...perNotification.values()].filter((n) => n > 1)).toEqual([]);
  }, 90_000);

  it('exits 0 at the deadline with a delivery still hanging, which goes back to the queue', async () => {
    hook.respond = () => new Promise(() => {}); // never answers
    const worker = await startWorkerProcess({ DATABASE_URL: t.databaseUrl, ALLOW_PRIVATE_TARGETS: 'true', SHUTDOWN_TIMEOUT_SECONDS: String(SHUTDOWN_TIMEOUT_SECONDS) });
    const sent = await t.call({ method: 'POST', url: '/v1/notifications', payload: { channel: 'webhook', recipient: `${hook.url}/hang`, content: 'hangs' } });
    expect(sent.statusCode).toBe(201);
    await eventually(() => hook.received.length === 1, 20_000, 'the delivery to hang');
    // The delivery would time out after 10 s; the worker does not wait for it.
    const { exit, ms } = await stop(worker);
    expect(exit, worker.output()).toEqual({ code: 0, signal: null });
    expect(ms, worker.output()).toBeLessThan(SHUTDOWN_TIMEOUT_SECONDS * 1000 + SLACK_MS);
    expect(ms).toBeLessThan(10_000);
    // pg-boss handed the job back (failed, to be retried): another worker delivers it.
    hook.respond = () => ({ status: 200 });
    await startWorkerProcess({ DATABASE_URL: t.databaseUrl, ALLOW_PRIVATE_TARGETS: 'true' });
    await eventually(async () => (await statusCounts([sent.json().id])).sent === 1, 40_000, 'the hung notification delivered by the next worker');
  }, 90_000);
});

describe('an API process with an upload in flight', () => {
  it('closes the upload at the deadline and exits 0', async () => {
    const api = await startServiceProcess('api', { DATABASE_URL: t.databaseUrl, SHUTDOWN_TIMEOUT_SECONDS: String(SHUTDOWN_TIMEOUT_SECONDS) });
    const { port } = new URL(api.base);
    // Headers and a little of a 1 MB body, then nothing: the request is in flight for good.
    const socket = connect(Number(port), '127.0.0.1');
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    let received = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
    // Expect: 100-continue makes the server say when it has the request (Node answers it as soon
    // as the headers are parsed), so the signal below finds the upload in flight.
    socket.write(`POST /v1/incidents HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${t.keys.write}\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n`);
    await eventually(() => received.includes('100 Continue'), 10_000, 'the API to take the request');
    socket.write(`{"title":"${'x'.repeat(10_000)}`);

    const { exit, ms } = await stop(api);
    expect(exit, api.output()).toEqual({ code: 0, signal: null });
    expect(ms, api.output()).toBeLessThan(SHUTDOWN_TIMEOUT_SECONDS * 1000 + SLACK_MS);
    await closed; // the server closed the upload rather than leave it hanging
    expect(api.output()).toContain('shutdown deadline');
  }, 60_000);
});

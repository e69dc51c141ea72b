import net from 'node:net';
import { sql } from 'kysely';
import { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newestChangeId } from '../src/adapters/postgres/change-store.ts';
import { makeDatabase, makePool, type Database } from '../src/adapters/postgres/database.ts';
import { killAllServices, startServiceProcess, type ServiceProcess } from './helpers/service-process.ts';
import { makeFeedWriter, metricValue, runWriterProcess } from './helpers/stream-feed.ts';
import { openSse, openWs, type SseClient } from './helpers/stream-clients.ts';
import { createTestDatabase } from './helpers/test-database.ts';
import { killAllWorkers, startWorkerProcess } from './helpers/worker-process.ts';
import { waitFor } from './helpers/wait.ts';

// SPEC section 7 (issue 12): two API processes on one database; changes appended by other
// processes reach a client on either, in commit order, exactly once across a reconnect, through a
// lost LISTEN connection, and a client that stops reading is cut off without slowing the others.

const adminKey = 'streams-admin-key-0123456789';
const auth = { authorization: `Bearer ${adminKey}` };
const incidentA = '0a0a0a0a-0000-4000-8000-00000000000a';
const incidentB = '0b0b0b0b-0000-4000-8000-00000000000b';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Database;
let a: ServiceProcess;
let b: ServiceProcess;
let feed: ReturnType<typeof makeFeedWriter>;
const opened: SseClient[] = [];

async function sse(base: string, query = '', headers: Record<string, string> = {}) {
  const client = await openSse(`${base}/v1/stream${query}`, { ...auth, ...headers });
  opened.push(client);
  expect(client.status).toBe(200);
  return client;
}

const lastId = (client: SseClient) => client.ids().at(-1) ?? 0;

beforeAll(async () => {
  database = await createTestDatabase();
  db = makeDatabase(makePool(database.url, 5));
  feed = makeFeedWriter(db);
  const env = { DATABASE_URL: database.url, ADMIN_API_KEY: adminKey, STREAM_HEARTBEAT_SECONDS: '0.2', SHUTDOWN_TIMEOUT_SECONDS: '20' };
  [a, b] = await Promise.all([startServiceProcess('api', env), startServiceProcess('api', env)]);
});

afterAll(async () => {
  for (const client of opened) client.close();
  await killAllServices();
  await killAllWorkers();
  await db?.destroy();
  await database?.drop();
});

describe('streams across processes', () => {
  it('a client on process B sees every change committed by two writer processes, once, in commit order (SSE and WebSocket)', async () => {
    const onB = await sse(b.base);
    const ws = (await openWs(`${b.base.replace('http', 'ws')}/v1/ws`, auth)).client!;
    const committed = (await Promise.all([runWriterProcess(database.url, 'x', 4, 60), runWriterProcess(database.url, 'y', 4, 60)])).flat().sort((p, q) => p - q);
    expect(committed.length).toBeGreaterThan(300);
    await waitFor(() => lastId(onB) >= committed.at(-1)! && (ws.events().at(-1)?.id ?? 0) >= committed.at(-1)!, { timeoutMs: 30_000, what: 'every change on B' });
    expect(onB.ids()).toEqual(committed);
    expect(ws.events().map((event) => event.id)).toEqual(committed);
    const first = onB.payloads()[0]!;
    expect(Object.keys(first).sort()).toEqual(['at', 'data', 'id', 'type']);
    expect(onB.events[0]!.event).toBe('test.change');
    ws.close();
  }, 90_000);

  it('a client that disconnects mid-stream and reconnects with Last-Event-ID, to the other process, gets every missed event exactly once', async () => {
    const first = await sse(b.base);
    const writing = runWriterProcess(database.url, 'r', 4, 80);
    await waitFor(() => first.events.length > 40, { timeoutMs: 30_000, what: 'some events on the first connection' });
    first.close();
    const resumeFrom = lastId(first);
    const seenFirst = first.ids();
    const second = await sse(a.base, '?since=1', { 'last-event-id': String(resumeFrom) });
    const committed = (await writing).sort((p, q) => p - q);
    await waitFor(() => lastId(second) >= committed.at(-1)!, { timeoutMs: 30_000, what: 'the resumed stream to catch up' });
    expect([...seenFirst, ...second.ids()]).toEqual(committed);
    second.close();
  }, 90_000);

  it('filters by types and by incident; a batch event keeps only that incident\'s items; a WebSocket subscribe replaces the filters and replays', async () => {
    const byType = await sse(b.base, '?types=incident.created,incident.deleted');
    const byIncident = await sse(b.base, `?incident_id=${incidentA}`);
    const ws = (await openWs(`${a.base.replace('http', 'ws')}/v1/ws?types=incident.updated`, auth)).client!;
    const ids = [
      ...(await feed.append({ type: 'incident.created', data: { id: incidentA, title: 'a' } }, { type: 'incident.created', data: { id: incidentB, title: 'b' } })),
      ...(await feed.append({ type: 'notification.updated', data: { id: 'n1', status: 'sent', channel: 'email', incident_id: incidentA, retry_count: 0, updated_at: 'x' } })),
      ...(await feed.append({
        type: 'notification.updated',
        data: { items: [{ id: 'n2', incident_id: incidentA }, { id: 'n3', incident_id: incidentB }, { id: 'n4', incident_id: null }] },
      })),
      ...(await feed.append({ type: 'notification.updated', data: { items: [{ id: 'n5', incident_id: incidentB }] } })),
      ...(await feed.append({ type: 'incident.updated', data: { id: incidentA, title: 'a2' } }, { type: 'incident.deleted', data: { id: incidentB } })),
    ];
    const newest = ids.at(-1)!;
    await waitFor(() => lastId(byType) === newest && lastId(byIncident) >= ids[5]!, { timeoutMs: 15_000, what: 'the filtered streams' });
    expect(byType.payloads().map((e) => [e.type, (e.data as { id: string }).id])).toEqual([
      ['incident.created', incidentA],
      ['incident.created', incidentB],
      ['incident.deleted', incidentB],
    ]);
    expect(byIncident.payloads().map((e) => e.type)).toEqual(['incident.created', 'notification.updated', 'notification.updated', 'incident.updated']);
    expect(byIncident.payloads()[2]!.data).toEqual({ items: [{ id: 'n2', incident_id: incidentA }] });
    expect(byIncident.payloads()[2]!.id).toBe(ids[3]);

    await waitFor(() => ws.events().length === 1, { what: 'the WebSocket client\'s incident.updated' });
    expect(ws.events()[0]).toMatchObject({ id: ids[5], type: 'incident.updated', data: { id: incidentA } });
    // New filters, replayed from the first of these changes: acknowledged first, then the replay.
    ws.send({ subscribe: { incident_id: incidentB, types: ['incident.created', 'notification.updated'], since: ids[0]! - 1 } });
    await waitFor(() => ws.events().length === 4, { what: 'the replay under the new filters' });
    const afterAck = ws.messages.slice(ws.messages.findIndex((m) => m.type === 'subscribed'));
    expect(afterAck[0]).toEqual({ type: 'subscribed', data: { types: ['incident.created', 'notification.updated'], incident_id: incidentB, since: ids[0]! - 1 } });
    expect(afterAck.slice(1).map((m) => m.id)).toEqual([ids[1], ids[3], ids[4]]);
    expect(afterAck[2]!.data).toEqual({ items: [{ id: 'n3', incident_id: incidentB }] });
    // A typo is answered in the contract's shape; the connection stays and the filters hold.
    ws.send({ subscribe: { types: ['incident.create'] } });
    ws.send('{"subscribe":');
    await waitFor(() => ws.messages.filter((m) => m.code === 'VALIDATION_ERROR').length === 2, { what: 'two errors' });
    const [typo, broken] = ws.messages.filter((m) => m.code === 'VALIDATION_ERROR');
    expect(typo).toMatchObject({ details: [{ field: 'message.subscribe.types' }], request_id: expect.any(String) });
    expect(broken).toMatchObject({ message: 'the message is not valid JSON' });
    const [later] = await feed.append({ type: 'incident.created', data: { id: incidentB, title: 'again' } });
    await waitFor(() => ws.events().at(-1)?.id === later, { what: 'a live event under the kept filters' });
    expect(ws.closed).toBeUndefined();
    ws.close();
  }, 60_000);

  it('a client that stops reading is cut off past 1 MiB unsent while a fast client receives everything', async () => {
    // A client without Last-Event-ID goes live from where B's reader is, which may still be behind
    // the previous test's last change (awaited on process A only): such an event, committed before
    // this test, may reach the fast client too. (A CI run saw 101 events for 100 appended.)
    const earlier = await newestChangeId(db);
    const fast = await sse(b.base);
    // A raw connection that sends its request and then never reads.
    const slow = net.connect(Number(new URL(b.base).port), '127.0.0.1');
    await new Promise((resolve) => slow.once('connect', resolve));
    slow.write(`GET /v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${adminKey}\r\n\r\n`);
    await new Promise((resolve) => slow.once('data', resolve));
    slow.pause();
    const before = await metricValue(b.base, 'tocsin_stream_disconnects_total', { reason: 'backlog' });
    const big = 'x'.repeat(60_000);
    let newest = 0;
    const appended: number[] = [];
    // Until the kernel's buffers are full and Node's own pass 1 MiB: tens of MiB on loopback.
    await waitFor(async () => {
      const ids = await feed.append(...Array.from({ length: 20 }, (_, i) => ({ type: 'incident.updated', data: { id: incidentA, i, big } })));
      appended.push(...ids);
      newest = ids.at(-1)!;
      return (await metricValue(b.base, 'tocsin_stream_disconnects_total', { reason: 'backlog' })) > before;
    }, { timeoutMs: 90_000, intervalMs: 1, what: 'the slow client to be cut off' });
    await waitFor(() => lastId(fast) >= newest, { timeoutMs: 30_000, what: 'the fast client to receive everything' });
    // By id, so that a failure says which event was missing, extra or sent twice.
    expect(fast.ids().filter((id) => id > earlier)).toEqual(appended);
    expect(fast.ended).toBe(false);
    // The slow client, reading again, finds its stream ended.
    const ended = new Promise((resolve) => slow.once('close', resolve));
    slow.resume();
    await ended;
    fast.close();
  }, 120_000);

  it('replays what is kept and starts with event: reset when the id asked for was deleted by retention or is unknown', async () => {
    const [k1, k2, k3] = await feed.append(...[1, 2, 3].map((i) => ({ type: 'incident.created', data: { id: incidentA, i } })));
    await feed.rollBack({ type: 'incident.created', data: { id: incidentA, rolled: true } });
    const [k5] = await feed.append({ type: 'incident.created', data: { id: incidentA, i: 5 } });
    // A gap (the rolled-back append) is not a deletion: no reset.
    const gap = await sse(b.base, `?since=${k3}`);
    await waitFor(() => gap.events.length === 1, { what: 'the replay after the gap' });
    expect(gap.ids()).toEqual([k5]);

    // Retention (the maintenance job) deletes what is older than EVENT_RETENTION_HOURS through k3.
    await sql`update changes set at = now() - interval '3 hours' where id <= ${k3}`.execute(db);
    const worker = await startWorker({ EVENT_RETENTION_HOURS: '2.5' });
    await sendMaintenanceJob();
    await waitFor(async () => (await sql<{ n: string }>`select pruned_through::text as n from change_retention`.execute(db)).rows[0]!.n === String(k3), {
      timeoutMs: 30_000,
      what: 'retention to record how far it deleted',
    });
    worker.child.kill('SIGTERM');

    const stale = await sse(b.base, '', { 'last-event-id': String(k1) });
    await waitFor(() => stale.events.length >= 1, { what: 'the reset' });
    expect(stale.events[0]!.event).toBe('reset');
    const reset = stale.payloads()[0]!;
    expect(reset).toMatchObject({ type: 'reset', data: { since: k1 } });
    expect(reset.id).toBeGreaterThanOrEqual(k5!);
    const [live] = await feed.append({ type: 'incident.created', data: { id: incidentB } });
    await waitFor(() => lastId(stale) === live, { what: 'live events after the reset' });
    expect(stale.events.map((e) => e.event)).toEqual(['reset', 'incident.created']);

    // Exactly what retention deleted through: nothing missing, no reset.
    const kept = await sse(a.base, `?since=${k3}`);
    await waitFor(() => lastId(kept) === live, { what: 'the kept replay' });
    expect(kept.events.map((e) => e.event)).not.toContain('reset');
    expect(kept.ids()[0]).toBe(k5);
    expect(k2).toBeLessThan(k3!);

    const future = (await openWs(`${b.base.replace('http', 'ws')}/v1/ws?since=999999999`, auth)).client!;
    await waitFor(() => future.events().length === 1, { what: 'the WebSocket reset' });
    expect(future.events()[0]).toMatchObject({ type: 'reset', data: { since: 999999999 } });
    future.close();
  }, 90_000);

  it('the LISTEN connection survives pg_terminate_backend and catches up without loss; heartbeats keep idle streams alive', async () => {
    const onB = await sse(b.base);
    const ws = (await openWs(`${b.base.replace('http', 'ws')}/v1/ws`, auth)).client!;
    let pings = 0;
    ws.socket.on('ping', () => pings++);
    await waitFor(() => onB.comments.filter((c) => c === 'ping').length >= 2 && pings >= 1, { what: 'SSE comments and a WebSocket ping' });
    const { rows } = await sql<{ n: number }>`
      select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
      where datname = current_database() and application_name = 'tocsin-listen'`.execute(db);
    expect(rows[0]!.n).toBe(2);
    // Appended while the listeners are away: found when they reconnect (or by the poll).
    const ids: number[] = [];
    for (let i = 0; i < 20; i++) ids.push(...(await feed.append({ type: 'incident.updated', data: { id: incidentA, i } })));
    await waitFor(() => lastId(onB) === ids.at(-1) && ws.events().at(-1)?.id === ids.at(-1), { timeoutMs: 30_000, what: 'the streams to catch up' });
    expect(onB.ids()).toEqual(ids);
    expect(ws.events().map((e) => e.id)).toEqual(ids);
    await waitFor(async () => (await sql<{ n: number }>`
      select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'tocsin-listen'`.execute(db)).rows[0]!.n === 2, {
      what: 'both listeners to be back',
    });
    ws.close();
  }, 60_000);

  it('listens on DATABASE_LISTEN_URL when it is set (a direct connection beside a pooler)', async () => {
    const listenUrl = new URL(database.url);
    listenUrl.searchParams.set('application_name', 'tocsin-direct-listen');
    const c = await startServiceProcess('api', { DATABASE_URL: database.url, ADMIN_API_KEY: adminKey, DATABASE_LISTEN_URL: listenUrl.toString() });
    const onC = await sse(c.base);
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'tocsin-direct-listen'`.execute(db);
    expect(rows[0]!.n).toBe(1);
    const [id] = await feed.append({ type: 'incident.created', data: { id: incidentA } });
    await waitFor(() => lastId(onC) === id, { what: 'the event on the process listening on DATABASE_LISTEN_URL' });
    onC.close();
    c.child.kill('SIGTERM');
    expect(await c.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('at shutdown every stream ends at once and the process exits 0 well before SHUTDOWN_TIMEOUT_SECONDS', async () => {
    const onB = await sse(b.base);
    const ws = (await openWs(`${b.base.replace('http', 'ws')}/v1/ws`, auth)).client!;
    const started = Date.now();
    b.child.kill('SIGTERM');
    const exit = await b.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    // SHUTDOWN_TIMEOUT_SECONDS is 20: a stream that held the process would take it all.
    expect(Date.now() - started).toBeLessThan(12_000);
    await waitFor(() => onB.ended && ws.closed, { what: 'both streams to end' });
    expect(ws.closed?.code).toBe(1001);
    expect(onB.comments.at(-1)).toMatch(/reconnect with Last-Event-ID/);
    // Nothing above made either process log an error (a failed replay, a crashed subscriber).
    for (const output of [a.output(), b.output()]) expect(output).not.toMatch(/"level":(50|60)/);
  }, 30_000);
});

const startWorker = (env: Record<string, string>) => startWorkerProcess({ DATABASE_URL: database.url, ...env });

async function sendMaintenanceJob() {
  const boss = new PgBoss({ connectionString: database.url, schema: 'pgboss', supervise: false, schedule: false });
  boss.on('error', () => {});
  await boss.start();
  await boss.send('tocsin-maintenance', {});
  await boss.stop({ graceful: false });
}

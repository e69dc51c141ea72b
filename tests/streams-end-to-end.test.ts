import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDatabase, makePool, type Database } from '../src/adapters/postgres/database.ts';
import { startHttpReceiver, type HttpReceiver } from './helpers/receivers.ts';
import { killAllServices, startServiceProcess, type ServiceProcess } from './helpers/service-process.ts';
import { openSse, openWs } from './helpers/stream-clients.ts';
import { createTestDatabase } from './helpers/test-database.ts';
import { waitFor } from './helpers/wait.ts';
import { killAllWorkers, startWorkerProcess } from './helpers/worker-process.ts';

// SPEC section 7 end to end (issue 12): two API processes and a worker on one database. What is
// done through API process A, and what the worker does when it delivers, reaches a client on API
// process B as events, in commit order, each event's data as the API shows it.

const adminKey = 'e2e-streams-admin-key-0123456789';
const auth = { authorization: `Bearer ${adminKey}` };
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Database;
let a: ServiceProcess;
let b: ServiceProcess;
let receiver: HttpReceiver;

beforeAll(async () => {
  database = await createTestDatabase();
  db = makeDatabase(makePool(database.url, 2));
  receiver = await startHttpReceiver();
  const env = { DATABASE_URL: database.url, ADMIN_API_KEY: adminKey, ALLOW_PRIVATE_TARGETS: 'true', RETRY_BACKOFF: '100ms' };
  [a, b] = await Promise.all([startServiceProcess('api', env), startServiceProcess('api', env), startWorkerProcess(env)]);
});

afterAll(async () => {
  await killAllServices();
  await killAllWorkers();
  await receiver?.close();
  await db?.destroy();
  await database?.drop();
});

async function call(method: string, path: string, body?: unknown) {
  const response = await fetch(`${a.base}${path}`, {
    method,
    headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

describe('streams, end to end', () => {
  it('a client on process B sees what is done through process A and by the worker, in commit order, as the API shows it', async () => {
    const all = await openSse(`${b.base}/v1/stream`, auth);
    const created = await call('POST', '/v1/incidents', { title: 'Disk full on db-1', severity: 'P2' });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const ws = (await openWs(`${b.base.replace('http', 'ws')}/v1/ws?incident_id=${id}`, auth)).client!;

    const notification = await call('POST', '/v1/notifications', { channel: 'webhook', recipient: `${receiver.url}/hook`, content: 'db-1 is at 99%', incident_id: id });
    expect(notification.status).toBe(201);
    // The worker delivers it: its statuses reach the stream too.
    await waitFor(
      () => all.payloads('notification.updated').some((event) => (event.data as { id: string; status: string }).id === notification.body.id && (event.data as { status: string }).status === 'sent'),
      { timeoutMs: 30_000, what: 'the worker\'s notification.updated (sent) on B' },
    );
    expect(receiver.received).toHaveLength(1);
    expect((await call('PATCH', `/v1/incidents/${id}/status`, { status: 'acknowledged', note: 'looking' })).status).toBe(200);
    expect((await call('POST', `/v1/incidents/${id}/comments`, { body: 'log rotation was off' })).status).toBe(201);
    const current = await call('GET', `/v1/incidents/${id}`);
    expect((await call('DELETE', `/v1/incidents/${id}`)).status).toBe(204);
    await waitFor(() => all.payloads('incident.deleted').length === 1, { timeoutMs: 15_000, what: 'incident.deleted on B' });

    // Every committed change, once, in commit order: exactly the rows of the feed.
    const { rows } = await sql<{ id: string }>`select id::text from changes order by id`.execute(db);
    expect(all.ids()).toEqual(rows.map((row) => Number(row.id)));
    const events = all.payloads();
    expect(events[0]).toMatchObject({ type: 'incident.created', data: created.body });
    // The last incident.updated before the deletion is the incident as GET showed it.
    const updates = events.filter((event) => event.type === 'incident.updated');
    expect(updates.at(-1)!.data).toEqual(current.body);
    expect(events.at(-1)).toMatchObject({ type: 'incident.deleted', data: { id } });
    const statuses = events.filter((event) => event.type === 'notification.updated').map((event) => (event.data as { status: string }).status);
    expect(statuses[0]).toBe('queued');
    expect(statuses.at(-1)).toBe('sent');

    // The WebSocket client filtered on the incident saw the same events from where it connected.
    await waitFor(() => ws.events().at(-1)?.type === 'incident.deleted', { what: 'incident.deleted on the WebSocket' });
    const fromWs = ws.events().map((event) => event.id);
    expect(fromWs).toEqual(all.ids().filter((eventId) => eventId >= fromWs[0]!));
    ws.close();
    all.close();
  }, 90_000);
});

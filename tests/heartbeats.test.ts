import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEARTBEAT_CHECK_QUEUE } from '../src/adapters/queue/heartbeat-queue.ts';
import { eventually } from './helpers/receivers.ts';
import { createTeam } from './helpers/people.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

// SPEC section 6: heartbeats, with intervals of a second or two, checked by pg-boss jobs run by
// two worker processes on one database (each test app runs role 'all').

let t: TestApp;
let other: TestApp;
let teamId: string;

beforeAll(async () => {
  t = await startTestApp({ role: 'all', env: { RATE_LIMIT_MAX: '100000' } });
  teamId = await createTeam(t);
  other = await startTestApp({ role: 'all', env: { RATE_LIMIT_MAX: '100000' }, shareDatabaseOf: t });
});
afterAll(async () => {
  await other.close();
  await t.close();
});

async function createHeartbeat(name: string, intervalSeconds: number, extra: Record<string, unknown> = {}) {
  const response = await t.call({ method: 'POST', url: '/v1/heartbeats', payload: { name, interval_seconds: intervalSeconds, ...extra } });
  expect(response.statusCode, response.body).toBe(201);
  return response.json() as { id: string; key: string; url: string; due_at: string; created_at: string; status: string };
}

const ping = (key: string, method: 'GET' | 'POST' = 'POST', app = t) =>
  app.call({ method, url: `/v1/heartbeats/${key}/ping`, as: null });

const heartbeat = async (id: string) =>
  ((await t.call({ method: 'GET', url: '/v1/heartbeats', as: 'read' })).json().data as { id: string; status: string; incident_id: string | null; last_ping_at: string | null; due_at: string }[])
    .find((h) => h.id === id);

const incidentsOf = (id: string) =>
  t.db.selectFrom('incidents').selectAll().where('dedup_key', '=', `heartbeat:${id}`).orderBy('created_at').execute();

const timeline = async (id: string) =>
  (await t.call({ method: 'GET', url: `/v1/incidents/${id}/events`, as: 'read' })).json().data as { type: string; actor: string; data: Record<string, unknown> }[];

const queuedChecks = (id: string) => t.service.queue.boss.findJobs(HEARTBEAT_CHECK_QUEUE, { data: { heartbeat_id: id }, queued: true });

describe('heartbeats', () => {
  it('creates a heartbeat with its key and ping URL, lists it without the key', async () => {
    const created = await createHeartbeat('nightly backup', 3600, { team_id: teamId });
    expect(created).toMatchObject({ name: 'nightly backup', interval_seconds: 3600, team_id: teamId, status: 'up', last_ping_at: null, incident_id: null });
    expect(created.key).toMatch(/^[0-9a-f]{32}$/);
    expect(created.url).toBe(`/v1/heartbeats/${created.key}/ping`);
    expect(new Date(created.due_at).getTime() - new Date(created.created_at).getTime()).toBeGreaterThanOrEqual(3_599_000);

    const listed = await t.call({ method: 'GET', url: '/v1/heartbeats', as: 'read' });
    expect(listed.statusCode).toBe(200);
    expect(JSON.stringify(listed.json())).not.toContain(created.key);
    expect(await heartbeat(created.id)).toMatchObject({ status: 'up', key_prefix: created.key.slice(0, 8) });
    // Its first check waits in the queue for the deadline.
    expect(await queuedChecks(created.id)).toHaveLength(1);
  });

  it('opens ONE incident naming the heartbeat when an interval is missed, and the next ping resolves it', async () => {
    const created = await createHeartbeat('queue consumer', 1, { team_id: teamId });
    const missed = await eventually(async () => {
      const hb = await heartbeat(created.id);
      return hb?.status === 'down' ? hb : undefined;
    }, 10_000, 'the heartbeat to be missed');

    const incidents = await incidentsOf(created.id);
    expect(incidents).toHaveLength(1);
    expect(missed.incident_id).toBe(incidents[0]!.id);
    expect(incidents[0]).toMatchObject({
      title: 'Heartbeat "queue consumer" missed',
      severity: 'P2',
      status: 'open',
      source: 'heartbeat',
      team_id: teamId,
      created_by: 'heartbeat:queue consumer',
    });
    expect(incidents[0]!.description).toContain('No ping within 1 s');
    const events = await timeline(incidents[0]!.id);
    expect(events.map((e) => e.type)).toEqual(['incident.created', 'heartbeat.missed']);
    expect(events[1]!.data).toMatchObject({ heartbeat_id: created.id, name: 'queue consumer', interval_seconds: 1, last_ping_at: null });

    // Once: nothing is armed while it is down, and two more intervals pass without a second incident.
    expect(await queuedChecks(created.id)).toEqual([]);
    const until = Date.now() + 2_000;
    await eventually(() => Date.now() > until, 5_000, 'two more intervals');
    expect(await incidentsOf(created.id)).toHaveLength(1);

    // The next ping (by GET, as cron jobs do, on the other process) resolves it.
    const pinged = await ping(created.key, 'GET', other);
    expect(pinged.statusCode).toBe(200);
    expect(pinged.json()).toMatchObject({ id: created.id, status: 'up', incident_id: null, last_ping_at: expect.any(String) });
    const [resolved] = await incidentsOf(created.id);
    expect(resolved!.status).toBe('resolved');
    const after = await timeline(resolved!.id);
    expect(after.map((e) => e.type)).toEqual(['incident.created', 'heartbeat.missed', 'heartbeat.recovered', 'incident.status_changed']);
    expect(after[3]).toMatchObject({ actor: 'heartbeat:queue consumer', data: { from: 'open', to: 'resolved' } });

    // Quiet again: a new miss opens a new incident.
    await eventually(async () => ((await incidentsOf(created.id)).length === 2 ? true : undefined), 10_000, 'the second miss');
    expect((await incidentsOf(created.id)).map((i) => i.status)).toEqual(['resolved', 'open']);
  });

  it('stays up while pings keep coming within the interval', async () => {
    const created = await createHeartbeat('busy worker', 2);
    const started = Date.now();
    // Ping every half second for three intervals; the deadline keeps moving ahead of the checks.
    while (Date.now() - started < 5_000) {
      expect((await ping(created.key)).statusCode).toBe(200);
      const next = Date.now() + 500;
      await eventually(() => Date.now() > next, 2_000, 'the next ping time');
    }
    expect(await heartbeat(created.id)).toMatchObject({ status: 'up', incident_id: null });
    expect(await incidentsOf(created.id)).toEqual([]);
    // Exactly one check waits, however many pings came.
    expect(await queuedChecks(created.id)).toHaveLength(1);
  });

  it('takes a ping by POST with any body or none, and by GET', async () => {
    const created = await createHeartbeat('cron', 3600);
    const bare = await t.app.inject({ method: 'POST', url: created.url });
    expect(bare.statusCode).toBe(200);
    const withLog = await t.app.inject({ method: 'POST', url: created.url, payload: 'backup done: 12 GB', headers: { 'content-type': 'text/plain' } });
    expect(withLog.statusCode).toBe(200);
    const form = await t.app.inject({ method: 'POST', url: created.url, payload: 'status=ok', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.statusCode).toBe(200);
    const json = await t.app.inject({ method: 'POST', url: created.url, payload: { ok: true } });
    expect(json.statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: created.url })).statusCode).toBe(200);
    const hb = await heartbeat(created.id);
    expect(new Date(hb!.due_at).getTime()).toBeGreaterThan(Date.now() + 3_590_000);
  });

  it('answers 404 HEARTBEAT_NOT_FOUND for an unknown or deleted key', async () => {
    const created = await createHeartbeat('temporary', 3600);
    expect((await t.call({ method: 'DELETE', url: `/v1/heartbeats/${created.id}` })).statusCode).toBe(204);
    for (const key of [created.key, '0'.repeat(32), 'nope']) {
      for (const method of ['GET', 'POST'] as const) {
        const response = await ping(key, method);
        expect(response.statusCode).toBe(404);
        expect(response.json()).toMatchObject({ code: 'HEARTBEAT_NOT_FOUND', request_id: response.headers['x-request-id'] });
      }
    }
    expect((await t.call({ method: 'DELETE', url: `/v1/heartbeats/${created.id}` })).json().code).toBe('HEARTBEAT_NOT_FOUND');
  });

  it('rate limits pings per heartbeat key, GET as well as POST, never per client address (SPEC section 2)', async () => {
    const [chatty, quiet] = [await createHeartbeat('chatty', 3600), await createHeartbeat('quiet', 3600)];
    const limited = await startTestApp({ env: { INTAKE_RATE_LIMIT_PER_MINUTE: '2' }, shareDatabaseOf: t });
    try {
      const send = (method: 'GET' | 'POST', url: string, ip: string) => limited.app.inject({ method, url, remoteAddress: ip });
      expect((await send('GET', chatty.url, '10.9.0.1')).statusCode).toBe(200);
      expect((await send('POST', chatty.url, '10.9.0.1')).statusCode).toBe(200);
      const refused = await send('GET', chatty.url, '10.9.0.1');
      expect(refused.statusCode).toBe(429);
      expect(refused.json().code).toBe('RATE_LIMIT_EXCEEDED');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect((await send('POST', chatty.url, '10.9.0.2')).statusCode).toBe(429);
      // Another heartbeat pinged from the same address has its own budget.
      expect((await send('GET', quiet.url, '10.9.0.1')).statusCode).toBe(200);
      expect((await send('POST', quiet.url, '10.9.0.1')).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('checks input and scopes', async () => {
    for (const body of [{ name: 'x', interval_seconds: 0 }, { name: '', interval_seconds: 60 }, { interval_seconds: 60 }, { name: 'x', interval_seconds: 1.5 }, { name: 'x', interval_seconds: 60, colour: 'red' }]) {
      const response = await t.call({ method: 'POST', url: '/v1/heartbeats', payload: body });
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json().code).toBe('VALIDATION_ERROR');
    }
    expect((await t.call({ method: 'POST', url: '/v1/heartbeats', payload: { name: 'x', interval_seconds: 60 }, as: 'write' })).statusCode).toBe(403);
    expect((await t.call({ method: 'GET', url: '/v1/heartbeats', as: null })).statusCode).toBe(401);
  });
});

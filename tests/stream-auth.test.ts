import Fastify, { type FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../src/domain/api-key.ts';
import { makeAuthenticator } from '../src/adapters/http/auth.ts';
import { errorHandler } from '../src/adapters/http/error-mapping.ts';
import { registerStreamRoutes } from '../src/adapters/http/routes/stream-routes.ts';
import { sameOrigin } from '../src/adapters/http/stream-auth.ts';
import { makeStreamHub } from '../src/adapters/http/stream-hub.ts';
import { activeKeyIds } from '../src/adapters/postgres/api-key-store.ts';
import { makeChangeReader } from '../src/adapters/postgres/change-reader.ts';
import { readerOf } from '../src/adapters/postgres/transact.ts';
import { openSse, openWs } from './helpers/stream-clients.ts';
import { makeFeedWriter } from './helpers/stream-feed.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';
import { waitFor } from './helpers/wait.ts';

// SPEC section 7 (issue 12): who may open a stream. Bearer keys with read, single-use tickets on
// any API process, and (issue 13) session cookies, whose WebSocket upgrades must come from
// PUBLIC_URL's origin. Everything else is 401 on SSE and on the WebSocket upgrade alike.

let a: TestApp;
let b: TestApp;
let baseA: string;
let baseB: string;
const env = { STREAM_HEARTBEAT_SECONDS: '0.1' };

beforeAll(async () => {
  a = await startTestApp({ env });
  b = await startTestApp({ env, shareDatabaseOf: a });
  baseA = await a.app.listen({ host: '127.0.0.1', port: 0 });
  baseB = await b.app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await b?.close();
  await a?.close();
});

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const ws = (base: string) => base.replace('http', 'ws');

async function refusedEverywhere(headers: Record<string, string>, query = '') {
  const stream = await openSse(`${baseA}/v1/stream${query}`, headers);
  const socket = await openWs(`${ws(baseB)}/v1/ws${query}`, headers);
  return { stream: [stream.status, stream.body?.code], socket: [socket.status, socket.body?.code] };
}

async function ticket(t: TestApp, as: 'read' | 'admin' = 'read', key?: string): Promise<{ ticket: string; expires_at: string }> {
  const response = key
    ? await t.app.inject({ method: 'POST', url: '/v1/stream-tickets', headers: bearer(key) })
    : await t.call({ method: 'POST', url: '/v1/stream-tickets', as });
  expect(response.statusCode).toBe(201);
  return response.json();
}

describe('stream auth', () => {
  it('answers 401 on SSE and on the WebSocket upgrade without a key, with an unknown, revoked or intake key', async () => {
    const unauthorized = { stream: [401, 'UNAUTHORIZED'], socket: [401, 'UNAUTHORIZED'] };
    expect(await refusedEverywhere({})).toEqual(unauthorized);
    expect(await refusedEverywhere({ authorization: 'Basic abc' })).toEqual(unauthorized);
    expect(await refusedEverywhere(bearer('tsn_not-a-key'))).toEqual(unauthorized);

    const created = (await a.call({ method: 'POST', url: '/v1/api-keys', payload: { name: 'doomed', scopes: ['read'] } })).json();
    expect((await openSse(`${baseA}/v1/stream`, bearer(created.key))).status).toBe(200);
    expect((await a.call({ method: 'DELETE', url: `/v1/api-keys/${created.id}` })).statusCode).toBe(204);
    // Process B may hold the key in its 5 s cache; both refuse it once that passes.
    await waitFor(async () => JSON.stringify(await refusedEverywhere(bearer(created.key))) === JSON.stringify(unauthorized), { timeoutMs: 15_000, intervalMs: 250 });

    const integration = (await a.call({ method: 'POST', url: '/v1/integrations', payload: { type: 'events_v2', name: 'pd' } })).json();
    const heartbeat = (await a.call({ method: 'POST', url: '/v1/heartbeats', payload: { name: 'backup', interval_seconds: 3600 } })).json();
    expect(integration.key).toBeTruthy();
    expect(heartbeat.key).toBeTruthy();
    expect(await refusedEverywhere(bearer(integration.key))).toEqual(unauthorized);
    expect(await refusedEverywhere(bearer(heartbeat.key))).toEqual(unauthorized);
    expect(await refusedEverywhere({}, `?ticket=${integration.key}`)).toEqual(unauthorized);
  });

  it('accepts a read key on both transports and ends its streams when the key is revoked', async () => {
    const created = (await a.call({ method: 'POST', url: '/v1/api-keys', payload: { name: 'watcher', scopes: ['read'] } })).json();
    const stream = await openSse(`${baseB}/v1/stream`, bearer(created.key));
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const { client } = await openWs(`${ws(baseB)}/v1/ws`, bearer(created.key));
    const byTicket = await openSse(`${baseA}/v1/stream?ticket=${(await ticket(a, 'read', created.key)).ticket}`);
    expect(byTicket.status).toBe(200);
    await a.call({ method: 'DELETE', url: `/v1/api-keys/${created.id}` });
    await waitFor(() => stream.ended && client!.closed && byTicket.ended, { what: 'the streams of the revoked key to end' });
    expect(client!.closed).toEqual({ code: 1008, reason: 'the API key was revoked' });
    expect(stream.comments.at(-1)).toBe('the API key was revoked');
  });

  it('a ticket is good once, on any API process, for 60 s, and not after its key is revoked', async () => {
    const issued = await ticket(a);
    expect(issued.ticket).toMatch(/^tst_[A-Za-z0-9_-]{43}$/);
    const ttl = Date.parse(issued.expires_at) - Date.now();
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(61_000);
    // Made on A, used on B, refused on A the second time.
    const first = await openSse(`${baseB}/v1/stream?ticket=${issued.ticket}`);
    expect(first.status).toBe(200);
    expect((await openSse(`${baseA}/v1/stream?ticket=${issued.ticket}`)).status).toBe(401);
    first.close();

    const forSocket = await ticket(b);
    const opened = await openWs(`${ws(baseA)}/v1/ws?ticket=${forSocket.ticket}`);
    expect(opened.client).toBeDefined();
    opened.client!.close();
    expect((await openWs(`${ws(baseB)}/v1/ws?ticket=${forSocket.ticket}`)).status).toBe(401);

    // Expired: the row's expiry moved into the past.
    const late = await ticket(a);
    await sql`update stream_tickets set expires_at = now() - interval '1 second'`.execute(a.db);
    expect((await openSse(`${baseB}/v1/stream?ticket=${late.ticket}`)).body).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringMatching(/expired/) });

    // A ticket is not a credential for anything else, and asking for one needs a key.
    expect((await a.app.inject({ method: 'POST', url: '/v1/stream-tickets' })).statusCode).toBe(401);
    expect((await a.app.inject({ method: 'GET', url: `/v1/incidents?ticket=${(await ticket(a)).ticket}` })).statusCode).toBe(401);

    const created = (await a.call({ method: 'POST', url: '/v1/api-keys', payload: { name: 'short-lived', scopes: ['read'] } })).json();
    const orphan = await ticket(a, 'read', created.key);
    await a.call({ method: 'DELETE', url: `/v1/api-keys/${created.id}` });
    expect((await openSse(`${baseB}/v1/stream?ticket=${orphan.ticket}`)).status).toBe(401);
  });

  it('refuses bad input with 400 VALIDATION_ERROR naming the field, before a ticket is used up', async () => {
    const key = bearer(a.keys.read);
    const field = async (query: string, headers: Record<string, string> = key) => {
      const response = await openSse(`${baseA}/v1/stream${query}`, headers);
      expect(response.status).toBe(400);
      expect(response.body!.code).toBe('VALIDATION_ERROR');
      return [...new Set((response.body!.details as { field: string }[]).map((d) => d.field))];
    };
    expect(await field('?since=abc')).toEqual(['querystring.since']);
    expect(await field('?since=-1')).toEqual(['querystring.since']);
    expect(await field('?incident_id=nope')).toEqual(['querystring.incident_id']);
    expect(await field('?types=incident.created,incident.create')).toEqual(['querystring.types']);
    expect(await field('?type=incident.created')).toEqual(['querystring.type']);
    expect(await field('', { ...key, 'last-event-id': 'abc' })).toEqual(['headers.last-event-id']);
    const kept = await ticket(a);
    expect(await field(`?ticket=${kept.ticket}&incident_id=nope`, {})).toEqual(['querystring.incident_id']);
    expect((await openSse(`${baseA}/v1/stream?ticket=${kept.ticket}`)).status).toBe(200);

    const socket = await openWs(`${ws(baseA)}/v1/ws?types=nope`, key);
    expect(socket).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR' } });
    const plain = await a.call({ method: 'GET', url: '/v1/ws', as: 'read' });
    expect(plain.statusCode).toBe(400);
    expect(plain.json().details).toEqual([{ field: 'headers.upgrade', message: 'must be websocket' }]);
  });

  it('documents the streams in the OpenAPI document', async () => {
    const doc = (await a.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const stream = doc.paths['/v1/stream'].get;
    expect(Object.keys(stream.responses['200'].content)).toEqual(['text/event-stream']);
    expect(stream.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['incident_id', 'last-event-id', 'since', 'ticket', 'types']);
    expect(doc.paths['/v1/ws'].get.description).toMatch(/subscribe/);
    expect(Object.keys(doc.paths['/v1/ws'].get.responses)).toEqual(expect.arrayContaining(['101', '401']));
    expect(doc.paths['/v1/stream-tickets'].post.responses['201'].content['application/json'].schema.required).toEqual(['ticket', 'expires_at']);
  });
});

describe('session cookies on streams (the hook for issue 13)', () => {
  // Sessions arrive with issue 13; until then a stand-in resolves one cookie value to a principal,
  // and the real stream routes, hub and reader run around it on the test's database.
  let app: FastifyInstance;
  let base: string;
  let reader: ReturnType<typeof makeChangeReader>;
  const publicUrl = 'https://tocsin.example.com';
  const person: Principal = { key_id: 'session:test', name: 'a person', scopes: ['read', 'write'] };

  beforeAll(async () => {
    reader = makeChangeReader({ db: a.db, listenUrl: a.databaseUrl, logger: { info() {}, warn() {}, debug() {} } });
    await reader.start();
    const hub = makeStreamHub({ reader, db: a.db, logger: { warn() {}, debug() {} }, heartbeatMs: 100, activeKeyIds: (ids) => activeKeyIds(readerOf(a.db), ids) });
    app = Fastify();
    app.setErrorHandler(errorHandler);
    await registerStreamRoutes(app, {
      reader: readerOf(a.db),
      auth: makeAuthenticator({ reader: readerOf(a.db) }),
      hub,
      publicUrl,
      sessionPrincipal: async (request) => (request.headers.cookie === 'tocsin_session=good' ? person : null),
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app?.close();
    await reader?.stop();
  });

  it('lets a cookie open a WebSocket only from PUBLIC_URL\'s origin, and an SSE stream without one', async () => {
    const cookie = { cookie: 'tocsin_session=good' };
    const same = await openWs(`${ws(base)}/v1/ws`, { ...cookie, origin: publicUrl });
    expect(same.client).toBeDefined();
    const [id] = await makeFeedWriter(a.db).append({ type: 'incident.created', data: { id: 'x' } });
    await waitFor(() => same.client!.events().at(-1)?.id === id, { what: 'an event for the cookie client' });
    same.client!.close();

    expect(await openWs(`${ws(base)}/v1/ws`, { ...cookie, origin: 'https://evil.example.com' })).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    expect(await openWs(`${ws(base)}/v1/ws`, cookie)).toMatchObject({ status: 403 });
    expect(await openWs(`${ws(base)}/v1/ws`, { cookie: 'tocsin_session=bad', origin: publicUrl })).toMatchObject({ status: 401 });
    expect((await openSse(`${base}/v1/stream`, cookie)).status).toBe(200);
  });

  it('compares origins by scheme, host and port', () => {
    expect(sameOrigin('https://tocsin.example.com', 'https://tocsin.example.com/')).toBe(true);
    expect(sameOrigin('https://TOCSIN.example.com:443', 'https://tocsin.example.com')).toBe(true);
    expect(sameOrigin('http://tocsin.example.com', 'https://tocsin.example.com')).toBe(false);
    expect(sameOrigin('https://tocsin.example.com:8443', 'https://tocsin.example.com')).toBe(false);
    expect(sameOrigin('null', 'https://tocsin.example.com')).toBe(false);
    expect(sameOrigin(undefined, 'https://tocsin.example.com')).toBe(false);
  });
});

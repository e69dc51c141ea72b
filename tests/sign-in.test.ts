import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invite, PASSWORD, sessionCookie, signedUpPerson, type Person } from './helpers/accounts.ts';
import { openSse, openWs } from './helpers/stream-clients.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

// SPEC section 10: people sign in. Real PostgreSQL, the real service, the real routes.

const PUBLIC_URL = 'http://tocsin.test:8080';
const origin = { origin: PUBLIC_URL };
let t: TestApp;
let ann: Person;

beforeAll(async () => {
  t = await startTestApp({ env: { PUBLIC_URL, RATE_LIMIT_MAX: '100000' } });
  ann = await signedUpPerson(t, { name: 'Ann' });
});
afterAll(async () => {
  await t?.close();
});

const signIn = (email: string, password: string, address = '127.0.0.1') =>
  t.app.inject({ method: 'POST', url: '/v1/sessions', payload: { email, password }, remoteAddress: address });
const me = (cookie: string) => t.app.inject({ method: 'GET', url: '/v1/me', headers: { cookie } });

describe('signing in', () => {
  it('signs in with the password set by the invitation, with a cookie a script cannot read', async () => {
    const response = await signIn(ann.email.toUpperCase(), PASSWORD);
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json()).toMatchObject({ user: { id: ann.id, role: 'responder' }, expires_at: expect.any(String) });
    const set = String(response.headers['set-cookie']);
    expect(set).toMatch(/^tocsin_session=[\w-]{40,};/);
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Lax/);
    expect(set).not.toMatch(/Secure/); // PUBLIC_URL is http here
    const who = await me(sessionCookie(response));
    expect(who.statusCode).toBe(200);
    expect(who.json()).toMatchObject({ id: ann.id, email: ann.email, role: 'responder' });
    // Only the token's hash is stored.
    const token = sessionCookie(response).split('=')[1]!;
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from sessions where token_hash = ${token}`.execute(t.db);
    expect(rows[0]!.n).toBe(0);
  });

  it('answers a wrong password and an unknown email alike, in the same time', async () => {
    // Five accounts, so that 50 wrong passwords stay within 10 per email; each try from its own
    // address, so the per-address limit stays out of the way.
    const people = await Promise.all([1, 2, 3, 4, 5].map((n) => signedUpPerson(t, { name: `Timing${n}` })));
    const wrong: number[] = [];
    const unknown: number[] = [];
    const timed = async (times: number[], email: string, address: string) => {
      const started = performance.now();
      const response = await signIn(email, 'not the password at all', address);
      times.push(performance.now() - started);
      return response;
    };
    for (let i = 0; i < 50; i++) {
      // Each pair at once, so that both meet the same load on a busy machine; five unknown emails
      // tried ten times each, as the five known ones are, so both sides count failures alike.
      // The one sent first has a head start, so the order alternates.
      const tryWrong = () => timed(wrong, people[i % 5]!.email, `10.1.${i}.1`);
      const tryUnknown = () => timed(unknown, `nobody-${i % 5}@example.com`, `10.2.${i}.1`);
      const [a, b] = i % 2 === 0
        ? await Promise.all([tryWrong(), tryUnknown()])
        : await Promise.all([tryUnknown(), tryWrong()]).then(([u, w]) => [w, u] as const);
      expect(a.statusCode).toBe(401);
      expect(b.statusCode).toBe(401);
      expect(a.json().code).toBe('INVALID_CREDENTIALS');
      expect(b.json().code).toBe('INVALID_CREDENTIALS');
      expect(a.json().message).toBe(b.json().message);
    }
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean(wrong) - mean(unknown))).toBeLessThan(25);
  });

  it('throttles after 10 failures for one email, even with the right password then', async () => {
    const bob = await signedUpPerson(t, { name: 'Bob' });
    for (let i = 0; i < 10; i++) expect((await signIn(bob.email, 'wrong password!', `10.3.${i}.1`)).statusCode).toBe(401);
    const blocked = await signIn(bob.email, PASSWORD, '10.3.99.1');
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json().code).toBe('RATE_LIMIT_EXCEEDED');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(800);
  });

  it('throttles after 50 failures from one address, whatever the email', async () => {
    // 45 failures are counted as a burst of guesses would have counted them; 5 more are real.
    await sql`insert into rate_limit_hits (key, window_start, window_ms, hits) values ('sign-in:address:10.4.0.1', clock_timestamp(), 900000, 45)`.execute(t.db);
    for (let i = 0; i < 5; i++) expect((await signIn(`guess-${i}@example.com`, 'guessing', '10.4.0.1')).statusCode).toBe(401);
    const blocked = await signIn(ann.email, PASSWORD, '10.4.0.1');
    expect(blocked.statusCode).toBe(429);
    expect(blocked.headers['retry-after']).toBeDefined();
    expect((await signIn(ann.email, PASSWORD, '10.4.0.2')).statusCode).toBe(201);
  });
});

describe('sessions', () => {
  it('signs out with DELETE /v1/sessions/current, which needs the Origin of PUBLIC_URL', async () => {
    const cookie = sessionCookie(await signIn(ann.email, PASSWORD));
    const forged = await t.app.inject({ method: 'DELETE', url: '/v1/sessions/current', headers: { cookie } });
    expect(forged.statusCode).toBe(403);
    const out = await t.app.inject({ method: 'DELETE', url: '/v1/sessions/current', headers: { cookie, ...origin } });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/tocsin_session=;/);
    expect((await me(cookie)).statusCode).toBe(401);
  });

  it('expires an unused session, and slides the expiry of a used one', async () => {
    const cookie = sessionCookie(await signIn(ann.email, PASSWORD));
    const token = cookie.split('=')[1]!;
    const hash = (await import('node:crypto')).createHash('sha256').update(token).digest('base64url');
    await sql`update sessions set expires_at = now() + interval '2 minutes' where token_hash = ${hash}`.execute(t.db);
    expect((await me(cookie)).statusCode).toBe(200);
    const { rows } = await sql<{ hours: number }>`select extract(epoch from expires_at - now()) / 3600 as hours from sessions where token_hash = ${hash}`.execute(t.db);
    expect(Number(rows[0]!.hours)).toBeGreaterThan(11.9); // SESSION_TTL_HOURS, 12 by default
    await sql`update sessions set expires_at = now() - interval '1 second' where token_hash = ${hash}`.execute(t.db);
    const expired = await me(cookie);
    expect(expired.statusCode).toBe(401);
    expect(expired.json().code).toBe('UNAUTHORIZED');
  });

  it('ends every other session when the password is set again', async () => {
    const first = sessionCookie(await signIn(ann.email, PASSWORD));
    const second = sessionCookie(await signIn(ann.email, PASSWORD));
    const token = await invite(t, ann.id);
    const reset = await t.app.inject({ method: 'POST', url: '/v1/setup', payload: { token, password: `${PASSWORD} 2` } });
    expect(reset.statusCode, reset.body).toBe(201);
    expect((await me(first)).statusCode).toBe(401);
    expect((await me(second)).statusCode).toBe(401);
    expect((await me(sessionCookie(reset))).statusCode).toBe(200);
    // The link was single use; the old password is gone, the new one works.
    expect((await t.app.inject({ method: 'POST', url: '/v1/setup', payload: { token, password: 'yet another password' } })).statusCode).toBe(400);
    expect((await signIn(ann.email, PASSWORD)).statusCode).toBe(401);
    const again = await signIn(ann.email, `${PASSWORD} 2`);
    expect(again.statusCode).toBe(201);
    ann.cookie = sessionCookie(again);
  });

  it('changes the password of the person signed in, ending their other sessions but not this one', async () => {
    const dee = await signedUpPerson(t, { name: 'Dee' });
    const other = sessionCookie(await signIn(dee.email, PASSWORD));
    const change = (current: string) =>
      t.app.inject({ method: 'POST', url: '/v1/me/password', payload: { current_password: current, password: 'a brand new password' }, headers: { cookie: dee.cookie, ...origin } });
    const wrong = await change('not my password');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().code).toBe('INVALID_CREDENTIALS');
    expect((await me(other)).statusCode).toBe(200);
    expect((await change(PASSWORD)).statusCode).toBe(204);
    expect((await me(dee.cookie)).statusCode).toBe(200);
    expect((await me(other)).statusCode).toBe(401);
    expect((await signIn(dee.email, 'a brand new password')).statusCode).toBe(201);
  });

  it('refuses a cookie write without the Origin of PUBLIC_URL (cross-site request forgery)', async () => {
    const write = (headers: Record<string, string>) =>
      t.app.inject({ method: 'POST', url: '/v1/incidents', payload: { title: 'Disk full' }, headers: { cookie: ann.cookie, ...headers } });
    const none = await write({});
    expect(none.statusCode).toBe(403);
    expect(none.json().code).toBe('FORBIDDEN');
    expect((await write({ origin: 'https://evil.example.com' })).statusCode).toBe(403);
    expect((await write({ origin: 'http://tocsin.test:8081' })).statusCode).toBe(403);
    const made = await write(origin);
    expect(made.statusCode, made.body).toBe(201);
    expect(made.json().created_by).toBe(`user:${ann.id}`);
    // Reads need no Origin.
    expect((await t.app.inject({ method: 'GET', url: `/v1/incidents/${made.json().id}`, headers: { cookie: ann.cookie } })).statusCode).toBe(200);
    // What a person does is on the timeline under their id and name; a key keeps its own.
    const acked = await t.app.inject({ method: 'PATCH', url: `/v1/incidents/${made.json().id}/status`, payload: { status: 'acknowledged' }, headers: { cookie: ann.cookie, ...origin } });
    expect(acked.statusCode, acked.body).toBe(200);
    await t.call({ method: 'POST', url: `/v1/incidents/${made.json().id}/comments`, payload: { body: 'from a tool' }, as: 'write' });
    const events = (await t.app.inject({ method: 'GET', url: `/v1/incidents/${made.json().id}/events`, headers: { cookie: ann.cookie } })).json().data;
    expect(events.map((e: { actor: string; actor_name: string | null }) => [e.actor, e.actor_name])).toEqual([
      [`user:${ann.id}`, 'Ann'],
      [`user:${ann.id}`, 'Ann'],
      ['api_key:test writer', 'test writer'],
    ]);
  });

  it('grants scopes by role: a responder reads and writes, an admin administers', async () => {
    const admin = await signedUpPerson(t, { role: 'admin', name: 'Ada' });
    const asPerson = (who: Person, method: 'POST' | 'PATCH', url: string, payload: object) =>
      t.app.inject({ method, url, payload, headers: { cookie: who.cookie, ...origin } });
    expect((await asPerson(ann, 'POST', '/v1/api-keys', { name: 'mine', scopes: ['read'] })).statusCode).toBe(403);
    expect((await asPerson(ann, 'PATCH', `/v1/users/${ann.id}`, { role: 'admin' })).statusCode).toBe(403);
    expect((await asPerson(ann, 'POST', `/v1/users/${ann.id}/invite`, {})).statusCode).toBe(403);
    expect((await asPerson(admin, 'POST', '/v1/api-keys', { name: 'theirs', scopes: ['read'] })).statusCode).toBe(201);
    const promoted = await asPerson(admin, 'PATCH', `/v1/users/${ann.id}`, { role: 'admin' });
    expect(promoted.statusCode).toBe(200);
    expect(promoted.json().role).toBe('admin');
    expect((await me(admin.cookie)).json().role).toBe('admin');
    // A person's stream ticket is good like a key's.
    const ticket = await t.app.inject({ method: 'POST', url: '/v1/stream-tickets', headers: { cookie: admin.cookie, ...origin } });
    expect(ticket.statusCode, ticket.body).toBe(201);
    const base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const sse = await openSse(`${base}/v1/stream?ticket=${ticket.json().ticket}`);
    expect(sse.status).toBe(200);
    sse.close();
    // An API key is not a person.
    expect((await t.call({ method: 'GET', url: '/v1/me' })).statusCode).toBe(401);
  });

  it('opens the streams with the session cookie', async () => {
    const address = t.app.server.address();
    const base = address && typeof address === 'object' ? `http://127.0.0.1:${address.port}` : await t.app.listen({ host: '127.0.0.1', port: 0 });
    const sse = await openSse(`${base}/v1/stream`, { cookie: ann.cookie });
    expect(sse.status).toBe(200);
    sse.close();
    const ws = await openWs(`${base.replace('http', 'ws')}/v1/ws`, { cookie: ann.cookie, ...origin });
    expect(ws.client).toBeDefined();
    ws.client!.close();
    expect((await openWs(`${base.replace('http', 'ws')}/v1/ws`, { cookie: ann.cookie, origin: 'https://evil.example.com' })).status).toBe(403);
    expect((await openSse(`${base}/v1/stream`, { cookie: 'tocsin_session=forged' })).status).toBe(401);
  });
});

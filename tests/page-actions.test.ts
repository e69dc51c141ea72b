import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { makeActionLinks } from '../src/app/action-links.ts';
import { deleteStaleReplyCodes } from '../src/adapters/postgres/reply-code-store.ts';
import { readerOf } from '../src/adapters/postgres/transact.ts';
import { twilioSignature } from '../src/adapters/http/routes/page-action-routes.ts';
import { eventually, startHttpReceiver, startSmtpReceiver, type HttpReceiver } from './helpers/receivers.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

// SPEC section 10: acting on a page from the page. Escalation pages sent for real (pg-boss jobs)
// to a local SMTP server, a webhook receiver and a Twilio-shaped SMS receiver; the link and the
// SMS reply then act as the person paged.

const PUBLIC_URL = 'http://tocsin.test';
const SMS_TOKEN = 'sms-auth-token';
let t: TestApp;
let hook: HttpReceiver;
let sms: HttpReceiver;
let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;

beforeAll(async () => {
  [hook, sms, smtp] = await Promise.all([startHttpReceiver(), startHttpReceiver(), startSmtpReceiver()]);
  t = await startTestApp({
    role: 'all',
    env: {
      PUBLIC_URL, ALLOW_PRIVATE_TARGETS: 'true', RATE_LIMIT_MAX: '100000', RETRY_BACKOFF: '100ms',
      SMTP_URL: smtp.url, EMAIL_FROM: 'Tocsin <pager@example.com>',
      SMS_API_URL: sms.url, SMS_ACCOUNT_SID: 'AC123', SMS_AUTH_TOKEN: SMS_TOKEN, SMS_FROM: '+15550000000',
    },
  });
});
afterAll(async () => {
  await t?.close();
  await Promise.all([hook?.close(), sms?.close(), smtp?.close()]);
});

let phones = 0;
/** A person paged by email, webhook and SMS at level 0 of their team's policy. */
async function pagedPerson(name: string) {
  const tag = randomUUID();
  const email = `${tag}@example.com`;
  const phone = `+1555${String(1_000_000 + ++phones).slice(1)}`;
  const user = await t.call({
    method: 'POST', url: '/v1/users',
    payload: { name, email, phone, contact_methods: [{ type: 'email', address: email }, { type: 'webhook', address: `${hook.url}/${tag}` }, { type: 'sms', address: phone }] },
  });
  expect(user.statusCode, user.body).toBe(201);
  const policy = await t.call({ method: 'POST', url: '/v1/escalation-policies', payload: { name: `${name}'s`, levels: [{ delay_seconds: 600, user_ids: [user.json().id] }] } });
  const team = await t.call({ method: 'POST', url: '/v1/teams', payload: { name: `${name}'s team`, member_ids: [user.json().id], escalation_policy_id: policy.json().id } });
  expect(team.statusCode, team.body).toBe(201);
  return { id: user.json().id as string, name, email, phone, tag, team: team.json().id as string };
}

async function openIncident(team: string, title: string) {
  const response = await t.call({ method: 'POST', url: '/v1/incidents', payload: { title, severity: 'P1', team_id: team }, as: 'write' });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id as string;
}

const linkIn = (text: string) => new RegExp(`${PUBLIC_URL}/a/([A-Za-z0-9_-]+)`).exec(text)?.[1];
/** The email as sent, quoted-printable soft breaks and escapes undone. */
const decoded = (raw: string) => raw.replace(/=\r?\n/g, '').replace(/=3D/gi, '=');
const status = async (id: string) => (await t.call({ method: 'GET', url: `/v1/incidents/${id}`, as: 'read' })).json().status as string;
const smsTo = (phone: string) => sms.received.map((r) => new URLSearchParams(r.body)).filter((form) => form.get('To') === phone).map((form) => form.get('Body')!);

function inbound(fields: Record<string, string>, signature?: string) {
  const url = '/v1/inbound/sms';
  const body = new URLSearchParams(fields).toString();
  return t.app.inject({
    method: 'POST', url, payload: body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature ?? twilioSignature(SMS_TOKEN, `${PUBLIC_URL}${url}`, fields) },
  });
}

describe('action links', () => {
  it('opens an emailed link with GET, changing nothing, and acknowledges with its button as the person paged', async () => {
    const ann = await pagedPerson('Ann');
    const id = await openIncident(ann.team, 'Checkout <b>down</b>');
    const mail = await eventually(() => smtp.messages.find((m) => m.to.includes(ann.email)), 15_000, 'the email page');
    const token = linkIn(decoded(mail.raw));
    expect(token).toBeDefined();
    // Every channel carries the link.
    const webhook = await eventually(() => hook.received.find((r) => r.path === `/${ann.tag}`), 15_000, 'the webhook page');
    expect(JSON.parse(webhook.body).content).toContain(`${PUBLIC_URL}/a/`);
    expect(JSON.parse(webhook.body).metadata.action_url).toMatch(/\/a\//);
    const text = await eventually(() => smsTo(ann.phone)[0], 15_000, 'the SMS page');
    expect(text).toContain(`${PUBLIC_URL}/a/`);

    const page = await t.app.inject({ method: 'GET', url: `/a/${token}` });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('Checkout &lt;b&gt;down&lt;/b&gt;');
    expect(page.body).toContain('P1');
    expect(page.body).toMatch(/<button type="submit">Acknowledge<\/button>/);
    expect(await status(id)).toBe('open');

    const acked = await t.app.inject({ method: 'POST', url: `/a/${token}`, payload: 'action=acknowledge', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(acked.statusCode, acked.body).toBe(200);
    expect(acked.body).toContain('Acknowledged');
    expect(await status(id)).toBe('acknowledged');
    const events = (await t.call({ method: 'GET', url: `/v1/incidents/${id}/events`, as: 'read' })).json().data as { type: string; actor: string; actor_name: string }[];
    expect(events.find((e) => e.type === 'incident.status_changed')).toMatchObject({ actor: `user:${ann.id}`, actor_name: 'Ann' });

    const resolved = await t.app.inject({ method: 'POST', url: `/a/${token}`, payload: 'action=resolve', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(resolved.statusCode).toBe(200);
    expect(await status(id)).toBe('resolved');
    // Resolved: the link expired with the incident.
    for (const method of ['GET', 'POST'] as const) {
      const dead = await t.app.inject({ method, url: `/a/${token}`, ...(method === 'POST' ? { payload: 'action=acknowledge', headers: { 'content-type': 'application/x-www-form-urlencoded' } } : {}) });
      expect(dead.statusCode).toBe(410);
      expect(dead.headers['content-type']).toMatch(/^text\/html/);
      expect(dead.body).not.toContain('Checkout');
      expect(dead.body).not.toContain('<form');
    }
  });

  it('answers forged, malformed and expired links with a page that names nothing and offers nothing', async () => {
    const bob = await pagedPerson('Bob');
    const id = await openIncident(bob.team, 'Queue backlog');
    const text = await eventually(() => smsTo(bob.phone)[0], 15_000, 'the SMS page');
    const token = linkIn(text)!;
    const forged = `${token.slice(0, 10)}${token[10] === 'A' ? 'B' : 'A'}${token.slice(11)}`;
    const { rows } = await sql<{ value: string }>`select value from settings where name = 'action_link_secret'`.execute(t.db);
    const old = await makeActionLinks({ secret: async () => rows[0]!.value, publicUrl: PUBLIC_URL }).url(bob.id, id, new Date(Date.now() - 8 * 86_400_000));
    const cases: [string, number][] = [[forged, 404], ['not-a-token', 404], ['x'.repeat(290), 404], [linkIn(old)!, 410]];
    for (const [bad, expected] of cases) {
      const got = await t.app.inject({ method: 'GET', url: `/a/${bad}` });
      expect(got.statusCode, bad).toBe(expected);
      expect(got.headers['content-type']).toMatch(/^text\/html/);
      expect(got.body).not.toContain('Queue backlog');
      expect(got.body).not.toContain('<form');
      const posted = await t.app.inject({ method: 'POST', url: `/a/${bad}`, payload: 'action=resolve', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect(posted.statusCode).toBe(expected);
    }
    // A post without an action is a 400 page, not a JSON dump.
    const empty = await t.app.inject({ method: 'POST', url: `/a/${token}`, payload: 'nothing=here', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(empty.statusCode).toBe(400);
    expect(empty.headers['content-type']).toMatch(/^text\/html/);
    expect(await status(id)).toBe('open');
  });
});

describe('SMS replies', () => {
  it('acknowledges with a signed "<code> A" from the paged number, and changes nothing otherwise', async () => {
    const cy = await pagedPerson('Cy');
    const id = await openIncident(cy.team, 'Payments slow');
    const text = await eventually(() => smsTo(cy.phone)[0], 15_000, 'the SMS page');
    const code = /Code ([A-Z0-9]{1,8})$/.exec(text)?.[1];
    expect(code, text).toBeDefined();

    const forged = await inbound({ From: cy.phone, Body: `${code} A` }, 'bm90IGEgc2lnbmF0dXJl');
    expect(forged.statusCode).toBe(403);
    expect(forged.json().code).toBe('FORBIDDEN');
    const unsigned = await t.app.inject({ method: 'POST', url: '/v1/inbound/sms', payload: `From=${encodeURIComponent(cy.phone)}&Body=${code}+A`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(unsigned.statusCode).toBe(403);
    const stranger = await inbound({ From: '+15559999999', Body: `${code} A`, MessageSid: 'SM1' });
    expect(stranger.statusCode).toBe(200);
    expect(stranger.body).toMatch(/^<\?xml[^>]*\?><Response><Message>Tocsin: reply with the code/);
    const wrongCode = await inbound({ From: cy.phone, Body: 'ZZZZZZZZ A' });
    expect(wrongCode.body).toContain('reply with the code');
    expect(await status(id)).toBe('open');

    const acked = await inbound({ From: cy.phone, Body: `${code!.toLowerCase()} a`, MessageSid: 'SM2', To: '+15550000000' });
    expect(acked.statusCode).toBe(200);
    expect(acked.headers['content-type']).toMatch(/^text\/xml/);
    expect(acked.body).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Message>Tocsin: acknowledged P1 Payments slow</Message></Response>');
    expect(await status(id)).toBe('acknowledged');
    const events = (await t.call({ method: 'GET', url: `/v1/incidents/${id}/events`, as: 'read' })).json().data as { type: string; actor: string; actor_name: string }[];
    expect(events.find((e) => e.type === 'incident.status_changed')).toMatchObject({ actor: `user:${cy.id}`, actor_name: 'Cy' });

    expect((await inbound({ From: cy.phone, Body: `${code} R` })).body).toContain('resolved P1 Payments slow');
    // Once resolved, the code is stale: nothing matches.
    expect((await inbound({ From: cy.phone, Body: `${code} A` })).body).toContain('reply with the code');
    expect(await status(id)).toBe('resolved');
    // Housekeeping then drops the codes of resolved incidents.
    expect(await deleteStaleReplyCodes(readerOf(t.db))).toBeGreaterThanOrEqual(1);
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from sms_reply_codes where incident_id = ${id}`.execute(t.db);
    expect(rows[0]!.n).toBe(0);
  });
});

import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterQueueName, queueName } from '../src/adapters/queue/delivery-queue.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';
import { eventually, startHttpReceiver, startSmtpReceiver, type HttpReceiver } from './helpers/receivers.ts';

const secret = `whsec_${Buffer.from('a test secret of 32 bytes length!').toString('base64')}`;
let t: TestApp;
let hook: HttpReceiver;
let sms: HttpReceiver;
let push: HttpReceiver;
let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;

beforeAll(async () => {
  [hook, sms, push, smtp] = await Promise.all([startHttpReceiver(), startHttpReceiver(), startHttpReceiver(), startSmtpReceiver()]);
  t = await startTestApp({
    role: 'all',
    env: {
      ALLOW_PRIVATE_TARGETS: 'true',
      RETRY_BACKOFF: '50ms,100ms',
      RATE_LIMIT_MAX: '100000',
      WEBHOOK_SIGNING_SECRET: secret,
      SMTP_URL: smtp.url,
      EMAIL_FROM: 'Tocsin <pager@example.com>',
      SMS_API_URL: sms.url,
      SMS_ACCOUNT_SID: 'AC123',
      SMS_AUTH_TOKEN: 'sms-token',
      SMS_FROM: '+15550000000',
      PUSH_API_URL: `${push.url}/v1/projects/demo/messages:send`,
      PUSH_API_TOKEN: 'push-token',
    },
  });
});
afterAll(async () => {
  await t.close();
  await Promise.all([hook.close(), sms.close(), push.close(), smtp.close()]);
});

const send = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  t.call({ method: 'POST', url: '/v1/notifications', payload: body, headers });

const get = async (id: string) => (await t.call({ method: 'GET', url: `/v1/notifications/${id}`, as: 'read' })).json();

const settled = (id: string, status = 'sent', ms = 10_000) =>
  eventually(async () => {
    const n = await get(id);
    return n.status === status ? n : undefined;
  }, ms, `notification ${id} to be ${status}`);

describe('webhook delivery (SPEC section 4)', () => {
  it('delivers a signed webhook and records the attempt', async () => {
    const path = `/signed-${Date.now()}`;
    const created = await send({ channel: 'webhook', recipient: `${hook.url}${path}`, subject: 'Disk full', content: 'db-1 is at 99%', metadata: { host: 'db-1' } });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ status: 'queued', priority: 'normal', max_retries: 3, retry_count: 0, attempts: [] });
    const id = created.json().id;

    const sent = await settled(id);
    expect(sent.attempts).toHaveLength(1);
    expect(sent.attempts[0]).toMatchObject({ attempt: 1, outcome: 'sent', status_code: 200 });
    expect(sent.sent_at).toBeTruthy();

    const request = hook.received.find((r) => r.path === path)!;
    expect(request.headers['webhook-id']).toBe(id);
    const timestamp = request.headers['webhook-timestamp'] as string;
    const expected = createHmac('sha256', Buffer.from(secret.slice(6), 'base64')).update(`${id}.${timestamp}.${request.body}`).digest('base64');
    expect(request.headers['webhook-signature']).toBe(`v1,${expected}`);
    expect(JSON.parse(request.body)).toMatchObject({ id, subject: 'Disk full', content: 'db-1 is at 99%', metadata: { host: 'db-1' } });
  });

  it('retries a 500 twice and then succeeds: sent with three attempts, same webhook-id each time', async () => {
    const path = `/flaky-${Date.now()}`;
    let calls = 0;
    hook.respond = (request) => (request.path === path && ++calls <= 2 ? { status: 500, body: 'boom' } : { status: 200 });
    const id = (await send({ channel: 'webhook', recipient: `${hook.url}${path}`, content: 'flaky' })).json().id;
    const sent = await settled(id);
    expect(sent.attempts.map((a: { outcome: string; status_code: number }) => [a.outcome, a.status_code])).toEqual([
      ['retry', 500],
      ['retry', 500],
      ['sent', 200],
    ]);
    expect(sent.retry_count).toBe(2);
    const ids = hook.received.filter((r) => r.path === path).map((r) => r.headers['webhook-id']);
    expect(ids).toEqual([id, id, id]);
  });

  it('fails a 400 at once into the dead letter queue, and redrives it', async () => {
    const path = `/reject-${Date.now()}`;
    let reject = true;
    hook.respond = (request) => (request.path === path && reject ? { status: 400, body: 'bad payload' } : { status: 200 });
    const id = (await send({ channel: 'webhook', recipient: `${hook.url}${path}`, content: 'rejected' })).json().id;
    const failed = await settled(id, 'failed');
    expect(failed.attempts).toHaveLength(1);
    expect(failed.attempts[0]).toMatchObject({ outcome: 'failed', status_code: 400 });
    expect(failed.last_error).toContain('400');

    const dead = await eventually(async () => {
      const jobs = await t.service.queue.boss.findJobs(deadLetterQueueName('webhook'), { data: { notification_id: id } });
      return jobs.length > 0 ? jobs : undefined;
    }, 5000, 'the dead letter job');
    expect(dead).toHaveLength(1);

    reject = false;
    const retried = await t.call({ method: 'POST', url: `/v1/notifications/${id}/retry` });
    expect(retried.statusCode).toBe(202);
    expect(retried.json()).toMatchObject({ status: 'queued', retry_count: 0 });
    const sent = await settled(id);
    expect(sent.attempts.map((a: { outcome: string }) => a.outcome)).toEqual(['failed', 'sent']);
    expect(await t.service.queue.boss.findJobs(deadLetterQueueName('webhook'), { data: { notification_id: id } })).toEqual([]);

    const again = await t.call({ method: 'POST', url: `/v1/notifications/${id}/retry` });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('NOT_RETRYABLE');
  });

  it('honours Retry-After on a 429', async () => {
    const path = `/slow-down-${Date.now()}`;
    let calls = 0;
    hook.respond = (request) => (request.path === path && ++calls === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 });
    const id = (await send({ channel: 'webhook', recipient: `${hook.url}${path}`, content: 'rate limited' })).json().id;
    await settled(id);
    const [first, second] = hook.received.filter((r) => r.path === path);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
  });

  it('gives up after max_retries transient failures', async () => {
    const path = `/down-${Date.now()}`;
    hook.respond = (request) => (request.path === path ? { status: 503 } : { status: 200 });
    const id = (await send({ channel: 'webhook', recipient: `${hook.url}${path}`, content: 'down', max_retries: 1, priority: 'low' })).json().id;
    const failed = await settled(id, 'failed');
    expect(failed.attempts.map((a: { outcome: string }) => a.outcome)).toEqual(['retry', 'failed']);
  });
});

describe('scheduling and cancelling', () => {
  it('sends a scheduled notification at scheduled_at, not before', async () => {
    const path = `/scheduled-${Date.now()}`;
    hook.respond = () => ({ status: 200 });
    const at = new Date(Date.now() + 1500);
    const created = await send({ channel: 'webhook', recipient: `${hook.url}${path}`, content: 'later', scheduled_at: at.toISOString() });
    expect(created.json().status).toBe('scheduled');
    const sent = await settled(created.json().id, 'sent', 10_000);
    const request = hook.received.find((r) => r.path === path)!;
    expect(request.at).toBeGreaterThanOrEqual(at.getTime());
    expect(new Date(sent.sent_at).getTime()).toBeGreaterThanOrEqual(at.getTime());
  });

  it('cancels a scheduled notification so it never goes out; too late is 409', async () => {
    const path = `/cancelled-${Date.now()}`;
    // Due in an hour: the cancellation always comes first, however loaded the machine.
    const created = await send({ channel: 'webhook', recipient: `${hook.url}${path}`, content: 'never', scheduled_at: new Date(Date.now() + 3_600_000).toISOString() });
    const id = created.json().id;
    const jobId = (await t.db.selectFrom('notifications').select('job_id').where('id', '=', id).executeTakeFirstOrThrow()).job_id!;
    expect((await t.call({ method: 'DELETE', url: `/v1/notifications/${id}` })).statusCode).toBe(204);
    expect((await get(id)).status).toBe('cancelled');
    const again = await t.call({ method: 'DELETE', url: `/v1/notifications/${id}` });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'NOT_CANCELLABLE', details: { status: 'cancelled' } });

    // A sent one cannot be cancelled either.
    const other = (await send({ channel: 'webhook', recipient: `${hook.url}${path}-sent`, content: 'now' })).json().id;
    await settled(other);
    expect((await t.call({ method: 'DELETE', url: `/v1/notifications/${other}` })).statusCode).toBe(409);

    // Its job is gone; and run anyway, as by a worker that fetched it just before the cancellation
    // committed, it sends nothing: waited for on the job's state, not by sleeping past a due time.
    const boss = t.service.queue.boss;
    expect(await boss.findJobs(queueName('webhook'), { id: jobId })).toEqual([]);
    await boss.insert(queueName('webhook'), [{ id: jobId, data: { notification_id: id } }]);
    await eventually(async () => (await boss.findJobs(queueName('webhook'), { id: jobId }))[0]?.state === 'completed', 20_000, 'the stale job to run');
    expect((await get(id)).status).toBe('cancelled');
    expect(hook.received.filter((r) => r.path === path)).toEqual([]);
  });
});

describe('batches', () => {
  it('creates and delivers a batch, and reports its progress', async () => {
    const path = `/batch-${Date.now()}`;
    const notifications = Array.from({ length: 120 }, (_, i) => ({ channel: 'webhook', recipient: `${hook.url}${path}`, content: `item ${i}` }));
    const created = await t.call({ method: 'POST', url: '/v1/notifications/batch', payload: { notifications } });
    expect(created.statusCode).toBe(201);
    const { batch_id, count, ids } = created.json();
    expect(count).toBe(120);
    expect(new Set(ids).size).toBe(120);
    const done = await eventually(async () => {
      const batch = (await t.call({ method: 'GET', url: `/v1/batches/${batch_id}` })).json();
      return batch.counts.sent === 120 ? batch : undefined;
    }, 15_000, 'the batch to be sent');
    expect(done).toEqual({ id: batch_id, total: 120, counts: { sent: 120 } });
    const listed = (await t.call({ method: 'GET', url: `/v1/notifications?batch_id=${batch_id}&limit=500` })).json();
    expect(listed.data).toHaveLength(120);
    expect(new Set(hook.received.filter((r) => r.path === path).map((r) => r.headers['webhook-id'])).size).toBe(120);
  });

  it('is all or nothing, naming each bad item by index', async () => {
    const marker = `atomic-${Date.now()}`;
    const notifications = [
      { channel: 'webhook', recipient: `${hook.url}/${marker}`, content: 'fine' },
      { channel: 'sms', recipient: 'not a phone', content: 'bad' },
      { channel: 'pager', recipient: 'x', content: 'bad channel' },
    ];
    const response = await t.call({ method: 'POST', url: '/v1/notifications/batch', payload: { notifications } });
    expect(response.statusCode).toBe(400);
    expect(response.json().details.map((d: { field: string }) => d.field)).toContain('body.notifications.2.channel');
    const second = await t.call({ method: 'POST', url: '/v1/notifications/batch', payload: { notifications: notifications.slice(0, 2) } });
    expect(second.statusCode).toBe(400);
    expect(second.json().details).toEqual([{ field: 'body.notifications.1.recipient', message: expect.stringContaining('E.164') }]);
    const rows = await t.db.selectFrom('notifications').select('id').where('content', '=', 'fine').where('recipient', 'like', `%${marker}`).execute();
    expect(rows).toEqual([]);
    expect((await t.call({ method: 'POST', url: '/v1/notifications/batch', payload: { notifications: [] } })).statusCode).toBe(400);
    expect((await t.call({ method: 'GET', url: '/v1/batches/00000000-0000-4000-8000-000000000000' })).json().code).toBe('BATCH_NOT_FOUND');
  });
});

describe('the other providers, against real local servers', () => {
  it('email over SMTP with a stable Message-ID and escaped HTML', async () => {
    const id = (await send({ channel: 'email', recipient: 'oncall@example.com', subject: 'Disk <full>', content: 'db-1 <script>alert(1)</script> & more' })).json().id;
    await settled(id);
    const mail = smtp.messages.find((m) => m.raw.includes(`Message-ID: <${id}@tocsin>`))!;
    expect(mail.to).toEqual(['oncall@example.com']);
    expect(mail.from).toBe('pager@example.com');
    expect(mail.raw).toContain('&lt;script&gt;');
    expect(mail.raw).not.toMatch(/<p>[^<]*<script>/);
  });

  it('sms over a Twilio-compatible API', async () => {
    const id = (await send({ channel: 'sms', recipient: '+14155550100', content: 'P1: db down' })).json().id;
    await settled(id);
    const request = sms.received.find((r) => r.headers['i-twilio-idempotency-token'] === id)!;
    expect(request.path).toBe('/2010-04-01/Accounts/AC123/Messages.json');
    expect(request.headers.authorization).toBe(`Basic ${Buffer.from('AC123:sms-token').toString('base64')}`);
    expect(Object.fromEntries(new URLSearchParams(request.body))).toEqual({ To: '+14155550100', From: '+15550000000', Body: 'P1: db down' });
  });

  it('push over an FCM-v1-shaped API', async () => {
    const id = (await send({ channel: 'push', recipient: 'device-token-1', subject: 'Tocsin', content: 'wake up', priority: 'high' })).json().id;
    await settled(id);
    const request = push.received.find((r) => r.headers['idempotency-key'] === id)!;
    expect(request.path).toBe('/v1/projects/demo/messages:send');
    expect(request.headers.authorization).toBe('Bearer push-token');
    expect(JSON.parse(request.body)).toMatchObject({ message: { token: 'device-token-1', notification: { title: 'Tocsin', body: 'wake up' }, data: { notification_id: id } } });
  });

  it('slack incoming webhooks', async () => {
    const path = `/services/T000/B000/${Date.now()}`;
    const id = (await send({ channel: 'slack', recipient: `${hook.url}${path}`, subject: 'Incident', content: 'db down' })).json().id;
    await settled(id);
    expect(JSON.parse(hook.received.find((r) => r.path === path)!.body)).toEqual({ text: '*Incident*\ndb down' });
  });

  it('refuses recipients that do not suit the channel', async () => {
    const cases = [
      { channel: 'email', recipient: 'not-an-address' },
      { channel: 'sms', recipient: '555-1234' },
      { channel: 'webhook', recipient: 'ftp://example.com/x' },
      { channel: 'slack', recipient: 'https://user:pass@example.com/x' },
    ];
    for (const c of cases) {
      const response = await send({ ...c, content: 'x' });
      expect(response.statusCode, c.recipient).toBe(400);
      expect(response.json().details[0].field).toBe('body.recipient');
    }
  });
});

describe('incidents and notifications', () => {
  it('keeps the incident notification_status and timeline up to date', async () => {
    const incident = (await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'paging', severity: 'P1' } })).json();
    expect(incident.notification_status).toBe('none');
    const okPath = `/page-ok-${Date.now()}`;
    const badPath = `/page-bad-${Date.now()}`;
    hook.respond = (request) => (request.path === badPath ? { status: 404 } : { status: 200 });
    const ok = (await send({ channel: 'webhook', recipient: `${hook.url}${okPath}`, content: 'page', incident_id: incident.id })).json().id;
    await settled(ok);
    expect((await t.call({ method: 'GET', url: `/v1/incidents/${incident.id}` })).json().notification_status).toBe('sent');
    const bad = (await send({ channel: 'webhook', recipient: `${hook.url}${badPath}`, content: 'page', incident_id: incident.id })).json().id;
    await settled(bad, 'failed');
    expect((await t.call({ method: 'GET', url: `/v1/incidents/${incident.id}` })).json().notification_status).toBe('partial');
    const events = (await t.call({ method: 'GET', url: `/v1/incidents/${incident.id}/events` })).json().data;
    expect(events.map((e: { type: string }) => e.type)).toEqual(['incident.created', 'notification.sent', 'notification.failed']);
    expect(events[2].data).toMatchObject({ notification_id: bad, channel: 'webhook', error: expect.stringContaining('404') });

    const listed = (await t.call({ method: 'GET', url: `/v1/notifications?incident_id=${incident.id}` })).json().data;
    expect(listed.map((n: { id: string }) => n.id).sort()).toEqual([ok, bad].sort());
    const unknown = await send({ channel: 'webhook', recipient: `${hook.url}/x`, content: 'x', incident_id: '00000000-0000-4000-8000-000000000000' });
    expect(unknown.statusCode).toBe(400);
  });
});

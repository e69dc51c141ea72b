// SPEC section 4 delivery rules that tests/notifications.test.ts does not cover: the circuit
// breaker, the SSRF guard, priority order, the metrics endpoints, unconfigured channels and
// Idempotency-Key on the notification POSTs.
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPrivateAddress } from '../src/adapters/providers/http-delivery.ts';
import { queueName } from '../src/adapters/queue/delivery-queue.ts';
import { loadConfig } from '../src/config.ts';
import { makeLogger } from '../src/logger.ts';
import { startService, type Service } from '../src/service.ts';
import { eventually, startHttpReceiver, type HttpReceiver } from './helpers/receivers.ts';
import { requiredTool } from './helpers/required-tool.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

type Sent = { id: string; status: string; retry_count: number; attempts: { attempt: number; outcome: string; status_code?: number; error?: string; duration_ms: number }[]; created_at: string; sent_at: string | null };

const send = async (t: TestApp, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
  const response = await t.call({ method: 'POST', url: '/v1/notifications', payload: body, headers });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id as string;
};

const get = async (t: TestApp, id: string): Promise<Sent> => (await t.call({ method: 'GET', url: `/v1/notifications/${id}`, as: 'read' })).json();

const settled = (t: TestApp, id: string, status: 'sent' | 'failed', ms = 10_000) =>
  eventually(async () => {
    const n = await get(t, id);
    return n.status === status ? n : undefined;
  }, ms, `notification ${id} to be ${status}`);

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The samples of one metric family in Prometheus text exposition, with their labels. */
function samples(text: string, name: string) {
  return text.split('\n').flatMap((line) => {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) return [];
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    return [{ labels, value: Number(match[3]) }];
  });
}
const sample = (text: string, name: string, labels: Record<string, string>) =>
  samples(text, name).find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

const scrape = async (t: TestApp) => {
  const response = await t.call({ method: 'GET', url: '/metrics', as: null });
  expect(response.statusCode).toBe(200);
  return response.body;
};

describe('circuit breaker per channel and per webhook host (SPEC section 4)', () => {
  // Long enough that everything checked while the breaker is open happens before it half-opens,
  // however loaded the machine.
  const HALF_OPEN_SECONDS = 6;
  let t: TestApp;
  let down: HttpReceiver;
  let other: HttpReceiver;
  beforeAll(async () => {
    [down, other] = await Promise.all([startHttpReceiver(), startHttpReceiver()]);
    t = await startTestApp({
      role: 'all',
      env: { ALLOW_PRIVATE_TARGETS: 'true', CIRCUIT_BREAKER_HALF_OPEN_SECONDS: String(HALF_OPEN_SECONDS), RATE_LIMIT_MAX: '100000', CHANNEL_RATE_LIMIT_PER_SECOND: '10000' },
    });
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all([down?.close(), other?.close()]);
  });

  it('opens after 5 consecutive failures, defers (not fails) while open, spares other hosts and channels, and delivers after half-open', async () => {
    let healthy = false;
    down.respond = (request) => (request.path.startsWith('/hook/') && !healthy ? { status: 503, body: 'unavailable' } : { status: 200 });
    const hookRequests = (path: string) => down.received.filter((r) => r.path === path);

    // Five transient failures in a row on one host. max_retries 0: each fails after one attempt.
    const failing = await Promise.all(range(5).map((i) => send(t, { channel: 'webhook', recipient: `${down.url}/hook/failing`, content: `failing ${i}`, max_retries: 0 })));
    for (const id of failing) {
      const n = await settled(t, id, 'failed');
      expect(n.attempts).toMatchObject([{ attempt: 1, outcome: 'failed', status_code: 503 }]);
    }
    // The breaker opened when the fifth answer came back, a moment after the receiver saw it.
    const openedAfter = Math.max(...hookRequests('/hook/failing').map((r) => r.at));
    expect(hookRequests('/hook/failing')).toHaveLength(5);

    // While open: deferred, not attempted, not failed, even with max_retries 0.
    const held = await Promise.all(range(3).map((i) => send(t, { channel: 'webhook', recipient: `${down.url}/hook/held`, content: `held ${i}`, max_retries: 0 })));
    await eventually(async () => (sample(await scrape(t), 'tocsin_notifications_total', { channel: 'webhook', status: 'deferred' }) ?? 0) >= 3, 5000, 'three deferrals');
    // The metric counts a deferral before its batch is recorded: wait for the rows.
    for (const id of held) {
      await eventually(async () => (await get(t, id)).status === 'queued', 5000, 'the deferral recorded');
      expect(await get(t, id)).toMatchObject({ status: 'queued', retry_count: 0, attempts: [] });
    }
    expect(hookRequests('/hook/held')).toEqual([]);

    // Another webhook host, and another channel on the same host, are not held back.
    const elsewhere = await send(t, { channel: 'webhook', recipient: `${other.url}/elsewhere`, content: 'other host' });
    const slack = await send(t, { channel: 'slack', recipient: `${down.url}/services/T0/B0/x`, content: 'same host, other channel' });
    await settled(t, elsewhere, 'sent');
    await settled(t, slack, 'sent');
    const checkedAt = Date.now();
    // Everything above must have happened while the breaker was still open, or the test proves nothing.
    expect(checkedAt - openedAfter).toBeLessThan(HALF_OPEN_SECONDS * 1000 - 100);
    expect(hookRequests('/hook/held')).toEqual([]);

    // The receiver recovers; at half-open the probe succeeds, the breaker closes and the held ones go out.
    healthy = true;
    for (const id of held) {
      const n = await settled(t, id, 'sent');
      expect(n.retry_count).toBe(0);
      expect(n.attempts).toMatchObject([{ attempt: 1, outcome: 'sent', status_code: 200 }]);
    }
    const deliveredHeld = hookRequests('/hook/held');
    expect(deliveredHeld).toHaveLength(3);
    for (const request of deliveredHeld) expect(request.at - openedAfter).toBeGreaterThanOrEqual(HALF_OPEN_SECONDS * 1000 - 100);

    const text = await scrape(t);
    expect(sample(text, 'tocsin_notifications_total', { channel: 'webhook', status: 'failed' })).toBe(5);
    expect(sample(text, 'tocsin_notifications_total', { channel: 'webhook', status: 'sent' })).toBe(4);
    expect(sample(text, 'tocsin_notifications_total', { channel: 'webhook', status: 'deferred' })).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'tocsin_notifications_total', { channel: 'webhook', status: 'retry' })).toBeUndefined();
  });
});

describe('SSRF guard (ALLOW_PRIVATE_TARGETS)', () => {
  it('classifies addresses', () => {
    const table: [string, boolean][] = [
      ['127.0.0.1', true], ['127.255.0.9', true], ['10.0.0.1', true], ['172.16.0.1', true], ['172.31.255.255', true],
      ['192.168.1.1', true], ['169.254.169.254', true], ['100.64.0.1', true], ['0.0.0.0', true], ['224.0.0.1', true],
      ['255.255.255.255', true], ['198.18.0.1', true], ['192.0.2.10', true],
      ['::1', true], ['::', true], ['fd12:3456::1', true], ['fc00::1', true], ['fe80::1', true], ['febf::1', true], ['ff02::1', true],
      ['::ffff:127.0.0.1', true], ['::ffff:7f00:1', true], ['::ffff:10.0.0.1', true], ['::ffff:a9fe:a9fe', true], ['::7f00:1', true],
      ['64:ff9b::7f00:1', true], ['64:ff9b::a00:1', true], ['64:ff9b::808:808', true], ['64:ff9b:1::1', true],
      ['2002:7f00:1::', true], ['2002:a9fe:a9fe::1', true], ['2002:808:808::1', true], ['2003::1', false], ['64:ff9c::1', false],
      ['8.8.8.8', false], ['1.1.1.1', false], ['172.15.255.255', false], ['172.32.0.1', false], ['100.128.0.1', false],
      ['192.0.32.10', false], ['93.184.215.14', false], ['2606:4700:4700::1111', false], ['2001:4860:4860::8888', false],
      ['::ffff:8.8.8.8', false], ['::ffff:808:808', false],
    ];
    for (const [address, expected] of table) expect(isPrivateAddress(address), address).toBe(expected);
  });

  describe('with ALLOW_PRIVATE_TARGETS=false (the default)', () => {
    let t: TestApp;
    let listener: Server;
    let connections = 0;
    let provider: HttpReceiver;
    beforeAll(async () => {
      // A bare TCP listener: it counts connections, so "nothing was received" also means "nothing connected".
      listener = createServer((socket) => {
        connections++;
        socket.destroy();
      });
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      // The SMS and push providers are the operator's configuration: trusted, even on loopback.
      provider = await startHttpReceiver();
      t = await startTestApp({
        role: 'all',
        env: { RATE_LIMIT_MAX: '100000', RETRY_BACKOFF: '50ms', SMS_API_URL: provider.url, SMS_ACCOUNT_SID: 'AC1', SMS_AUTH_TOKEN: 'tok', PUSH_API_URL: `${provider.url}/push` },
      });
    });
    afterAll(async () => {
      await t?.close();
      await provider?.close();
      await new Promise((resolve) => listener?.close(resolve));
    });

    it('delivers through the operator\'s own provider URLs (SMS, push) on private addresses', async () => {
      const ids = [
        await send(t, { channel: 'sms', recipient: '+14155550100', content: 'sms via a private provider' }),
        await send(t, { channel: 'push', recipient: 'device-token-1', content: 'push via a private provider' }),
      ];
      for (const id of ids) await settled(t, id, 'sent');
      expect(provider.received.map((r) => r.path).sort()).toEqual(['/2010-04-01/Accounts/AC1/Messages.json', '/push']);
    });

    it('fails private targets for good after one attempt, without connecting', async () => {
      const port = (listener.address() as AddressInfo).port;
      // 10.0.0.1 and 169.254.169.254 are IP literals, which Node never passes through a DNS
      // lookup: the guard must refuse them before dialling (an attempt to connect would time
      // out or be refused, a transient error, not this one). Nothing here may touch the network.
      const targets = [
        { channel: 'webhook', recipient: `http://127.0.0.1:${port}/hook`, address: '127.0.0.1' },
        { channel: 'webhook', recipient: `http://localhost:${port}/hook`, address: '127.0.0.1' },
        { channel: 'webhook', recipient: `http://[::1]:${port}/hook`, address: '::1' },
        { channel: 'webhook', recipient: `http://[::ffff:127.0.0.1]:${port}/hook`, address: '127.0.0.1' },
        { channel: 'webhook', recipient: 'http://169.254.169.254/latest/meta-data/', address: '169.254.169.254' },
        { channel: 'webhook', recipient: 'https://10.0.0.1/hook', address: '10.0.0.1' },
        { channel: 'webhook', recipient: `http://[64:ff9b::7f00:1]:${port}/hook`, address: '64:ff9b::7f00:1' },
        { channel: 'webhook', recipient: `http://[2002:7f00:1::]:${port}/hook`, address: '2002:7f00:1::' },
        { channel: 'slack', recipient: `http://127.0.0.1:${port}/services/T0/B0/x`, address: '127.0.0.1' },
        { channel: 'slack', recipient: `http://localhost:${port}/services/T0/B0/x`, address: '127.0.0.1' },
        { channel: 'slack', recipient: 'http://10.0.0.1/services/T0/B0/x', address: '10.0.0.1' },
      ];
      const ids = await Promise.all(targets.map(({ channel, recipient }) => send(t, { channel, recipient, content: 'ssrf' })));
      for (const [index, id] of ids.entries()) {
        const n = await settled(t, id, 'failed');
        expect(n.retry_count, targets[index]!.recipient).toBe(0);
        expect(n.attempts, targets[index]!.recipient).toHaveLength(1);
        expect(n.attempts[0]!.outcome).toBe('failed');
        expect(n.attempts[0]!.status_code).toBeUndefined();
        expect(n.attempts[0]!.error, targets[index]!.recipient).toMatch(/private address \(ALLOW_PRIVATE_TARGETS is false\)/);
        // The IPv4-mapped form names the same address in its hex spelling (::ffff:7f00:1).
        if (!targets[index]!.recipient.includes('::ffff:')) expect(n.attempts[0]!.error).toContain(targets[index]!.address);
        expect(n.attempts[0]!.duration_ms).toBeLessThan(1000);
      }
      expect(connections).toBe(0);
    });
  });

  describe('with ALLOW_PRIVATE_TARGETS=true', () => {
    let t: TestApp;
    let receiver: HttpReceiver;
    beforeAll(async () => {
      receiver = await startHttpReceiver();
      t = await startTestApp({ role: 'all', env: { ALLOW_PRIVATE_TARGETS: 'true', RATE_LIMIT_MAX: '100000' } });
    });
    afterAll(async () => {
      await t?.close();
      await receiver?.close();
    });

    it('delivers to loopback targets', async () => {
      const port = new URL(receiver.url).port;
      const targets = [
        { channel: 'webhook', recipient: `http://127.0.0.1:${port}/allowed-ip` },
        { channel: 'webhook', recipient: `http://localhost:${port}/allowed-name` },
        { channel: 'slack', recipient: `http://127.0.0.1:${port}/services/T0/B0/allowed` },
      ];
      const ids = await Promise.all(targets.map((target) => send(t, { ...target, content: 'allowed' })));
      for (const id of ids) await settled(t, id, 'sent');
      expect(receiver.received.map((r) => r.path).sort()).toEqual(['/allowed-ip', '/allowed-name', '/services/T0/B0/allowed']);
    });
  });
});

describe('priority within a channel (SPEC section 4)', () => {
  let t: TestApp;
  let worker: Service | undefined;
  let receiver: HttpReceiver;
  beforeAll(async () => {
    receiver = await startHttpReceiver();
    t = await startTestApp({ role: 'api', env: { RATE_LIMIT_MAX: '100000' } });
  });
  afterAll(async () => {
    await worker?.close();
    await t?.close();
    await receiver?.close();
  });

  it('delivers high before normal before low when all are waiting', async () => {
    // Everything is queued before any worker runs, so every fetch sees the whole backlog.
    for (const priority of ['low', 'normal', 'high']) {
      const notifications = range(20).map((i) => ({ channel: 'webhook', recipient: `${receiver.url}/prio`, content: `${priority} ${i}`, priority, metadata: { priority } }));
      const response = await t.call({ method: 'POST', url: '/v1/notifications/batch', payload: { notifications } });
      expect(response.statusCode).toBe(201);
    }
    worker = await startService({
      role: 'worker',
      config: loadConfig({
        DATABASE_URL: t.databaseUrl,
        ALLOW_PRIVATE_TARGETS: 'true',
        WORKER_BATCH_SIZE: '5',
        WORKER_CONCURRENCY: '1',
        // A rate-limited job is requeued behind the rest; keep the limit out of the way.
        CHANNEL_RATE_LIMIT_PER_SECOND: '100000',
      }),
      logger: makeLogger('silent'),
      databaseUrl: t.databaseUrl,
    });
    await eventually(() => receiver.received.length >= 60, 20_000, 'all 60 deliveries');
    const order = receiver.received.map((r) => JSON.parse(r.body).metadata.priority as string);
    expect(order).toEqual([...Array(20).fill('high'), ...Array(20).fill('normal'), ...Array(20).fill('low')]);
  });
});

describe('/metrics and /v1/metrics (SPEC section 4)', () => {
  let t: TestApp;
  let receiver: HttpReceiver;
  beforeAll(async () => {
    receiver = await startHttpReceiver();
    receiver.respond = (request) => (request.path === '/reject' ? { status: 400, body: 'no' } : { status: 200 });
    t = await startTestApp({ role: 'all', env: { ALLOW_PRIVATE_TARGETS: 'true', RATE_LIMIT_MAX: '100000' } });
    const sent = await Promise.all(range(6).map((i) => send(t, { channel: 'webhook', recipient: `${receiver.url}/ok`, content: `ok ${i}` })));
    const failed = await Promise.all(range(2).map((i) => send(t, { channel: 'webhook', recipient: `${receiver.url}/reject`, content: `reject ${i}` })));
    const slack = await send(t, { channel: 'slack', recipient: `${receiver.url}/services/T0/B0/m`, content: 'slack' });
    // Waits an hour: the queue depth.
    await send(t, { channel: 'webhook', recipient: `${receiver.url}/later`, content: 'later', scheduled_at: new Date(Date.now() + 3_600_000).toISOString() });
    for (const id of [...sent, slack]) await settled(t, id, 'sent');
    for (const id of failed) await settled(t, id, 'failed');
  });
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
  });

  it('exposes the tocsin_* metrics without auth', async () => {
    const response = await t.call({ method: 'GET', url: '/metrics', as: null });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = response.body;

    expect(text).toContain('# TYPE tocsin_notifications_total counter');
    expect(sample(text, 'tocsin_notifications_total', { channel: 'webhook', status: 'sent' })).toBe(6);
    expect(sample(text, 'tocsin_notifications_total', { channel: 'webhook', status: 'failed' })).toBe(2);
    expect(sample(text, 'tocsin_notifications_total', { channel: 'slack', status: 'sent' })).toBe(1);

    expect(text).toContain('# TYPE tocsin_delivery_duration_seconds histogram');
    expect(sample(text, 'tocsin_delivery_duration_seconds_count', { channel: 'webhook' })).toBe(8);
    expect(sample(text, 'tocsin_delivery_duration_seconds_bucket', { channel: 'webhook', le: '+Inf' })).toBe(8);
    expect(sample(text, 'tocsin_delivery_duration_seconds_sum', { channel: 'webhook' })).toBeGreaterThan(0);

    expect(text).toContain('# TYPE tocsin_queue_depth gauge');
    expect(sample(text, 'tocsin_queue_depth', { channel: 'webhook' })).toBe(1);
    for (const channel of ['email', 'sms', 'push', 'slack']) expect(sample(text, 'tocsin_queue_depth', { channel }), channel).toBe(0);

    expect(text).toContain('# TYPE tocsin_http_request_duration_seconds histogram');
    expect(sample(text, 'tocsin_http_request_duration_seconds_count', { method: 'POST', route: '/v1/notifications', status_code: '201' })).toBe(10);
  });

  it('reports per-channel figures on /v1/metrics that match the deliveries', async () => {
    expect((await t.call({ method: 'GET', url: '/v1/metrics', as: null })).statusCode).toBe(401);
    const response = await t.call({ method: 'GET', url: '/v1/metrics', as: 'read' });
    expect(response.statusCode).toBe(200);
    const byChannel = Object.fromEntries(response.json().channels.map((c: { channel: string }) => [c.channel, c]));

    const listed: Sent[] = (await t.call({ method: 'GET', url: '/v1/notifications?channel=webhook&status=sent&limit=500', as: 'read' })).json().data;
    expect(listed).toHaveLength(6);
    const latency = listed.reduce((sum, n) => sum + (Date.parse(n.sent_at!) - Date.parse(n.created_at)), 0) / listed.length;

    expect(byChannel.webhook).toMatchObject({ sent: 6, failed: 2, success_rate: 0.75, queue_depth: 1 });
    // The API's timestamps are in milliseconds, the database's in microseconds.
    expect(Math.abs(byChannel.webhook.avg_latency_ms - latency)).toBeLessThan(1.5);
    expect(byChannel.slack).toMatchObject({ sent: 1, failed: 0, success_rate: 1, queue_depth: 0 });
    expect(byChannel.slack.avg_latency_ms).toBeGreaterThanOrEqual(0);
    for (const channel of ['email', 'sms', 'push']) {
      expect(byChannel[channel], channel).toEqual({ channel, sent: 0, failed: 0, queue_depth: 0, success_rate: null, avg_latency_ms: null });
    }
  });

  const promtool = requiredTool('promtool', { command: ['promtool', '--version'], install: 'apt-get install prometheus; .ci/run does it' });
  describe.skipIf(promtool.skip)(`promtool check metrics${promtool.label}`, () => {
    it('finds nothing to remark on the tocsin_* metrics', async () => {
      const text = await scrape(t);
      const result = spawnSync(promtool.assertPresent(), ['check', 'metrics'], { input: text, encoding: 'utf8' });
      // Every name on /metrics starts with tocsin_ (the process metrics too), so every remark,
      // and any parse error, is about Tocsin's own metrics.
      expect(samples(text, 'tocsin_notifications_total').length).toBeGreaterThan(0);
      expect(text.split('\n').filter((line) => line !== '' && !/^(# (HELP|TYPE) )?tocsin_/.test(line))).toEqual([]);
      const remarks = `${result.stdout}${result.stderr}`.split('\n').filter((line) => line.trim() !== '');
      expect(remarks).toEqual([]);
      expect(result.status).toBe(0);
    });
  });
});

describe('channels that are not configured', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ role: 'api', env: { RATE_LIMIT_MAX: '100000' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses email, sms and push up front, naming body.channel and the variables to set', async () => {
    const cases = [
      { channel: 'email', recipient: 'oncall@example.com', needs: ['SMTP_URL'] },
      { channel: 'sms', recipient: '+14155550100', needs: ['SMS_API_URL', 'SMS_ACCOUNT_SID', 'SMS_AUTH_TOKEN'] },
      { channel: 'push', recipient: 'device-token', needs: ['PUSH_API_URL'] },
    ];
    for (const { channel, recipient, needs } of cases) {
      const response = await t.call({ method: 'POST', url: '/v1/notifications', payload: { channel, recipient, content: 'x' } });
      expect(response.statusCode, channel).toBe(400);
      const body = response.json();
      expect(body.code).toBe('VALIDATION_ERROR');
      expect(body.details).toHaveLength(1);
      expect(body.details[0].field).toBe('body.channel');
      for (const name of needs) expect(body.details[0].message).toContain(name);
    }

    const batch = await t.call({
      method: 'POST',
      url: '/v1/notifications/batch',
      payload: { notifications: [{ channel: 'webhook', recipient: 'https://example.com/hook', content: 'fine' }, { channel: 'email', recipient: 'a@example.com', content: 'x' }] },
    });
    expect(batch.statusCode).toBe(400);
    expect(batch.json().details).toEqual([{ field: 'body.notifications.1.channel', message: expect.stringContaining('SMTP_URL') }]);
    expect(await t.db.selectFrom('notifications').select('id').execute()).toEqual([]);
  });
});

describe('Idempotency-Key on the notification POSTs (SPEC section 2)', () => {
  let t: TestApp;
  let receiver: HttpReceiver;
  beforeAll(async () => {
    receiver = await startHttpReceiver();
    t = await startTestApp({ role: 'all', env: { ALLOW_PRIVATE_TARGETS: 'true', RATE_LIMIT_MAX: '100000' } });
  });
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
  });

  const jobsOf = (id: string) => t.service.queue.boss.findJobs(queueName('webhook'), { data: { notification_id: id } });

  it('replays POST /v1/notifications: one notification, one delivery; another body is 409', async () => {
    const payload = { channel: 'webhook', recipient: `${receiver.url}/idem-one`, content: 'once' };
    const headers = { 'idempotency-key': 'notif-key-1' };
    const first = await t.call({ method: 'POST', url: '/v1/notifications', payload, headers });
    expect(first.statusCode).toBe(201);
    const id = first.json().id;
    await settled(t, id, 'sent');

    const again = await t.call({ method: 'POST', url: '/v1/notifications', payload, headers });
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    expect(again.headers.location).toBe(`/v1/notifications/${id}`);

    const conflict = await t.call({ method: 'POST', url: '/v1/notifications', payload: { ...payload, content: 'twice' }, headers });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json().code).toBe('IDEMPOTENCY_KEY_CONFLICT');

    const rows = await t.db.selectFrom('notifications').select('id').where('recipient', '=', payload.recipient).execute();
    expect(rows).toEqual([{ id }]);
    expect(await jobsOf(id)).toHaveLength(1);
    // A later notification to the same receiver has gone out; a second copy would have too.
    await settled(t, await send(t, { channel: 'webhook', recipient: `${receiver.url}/idem-marker`, content: 'marker' }), 'sent');
    expect(receiver.received.filter((r) => r.path === '/idem-one').map((r) => r.headers['webhook-id'])).toEqual([id]);
  });

  it('replays POST /v1/notifications/batch: one batch, one delivery each; another body is 409', async () => {
    const notifications = range(3).map((i) => ({ channel: 'webhook', recipient: `${receiver.url}/idem-batch`, content: `item ${i}` }));
    const headers = { 'idempotency-key': 'batch-key-1' };
    const first = await t.call({ method: 'POST', url: '/v1/notifications/batch', payload: { notifications }, headers });
    expect(first.statusCode).toBe(201);
    const { batch_id, ids } = first.json();
    for (const id of ids) await settled(t, id, 'sent');

    const again = await t.call({ method: 'POST', url: '/v1/notifications/batch', payload: { notifications }, headers: { 'x-idempotency-key': 'batch-key-1' } });
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());

    const conflict = await t.call({ method: 'POST', url: '/v1/notifications/batch', payload: { notifications: notifications.slice(0, 2) }, headers });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json().code).toBe('IDEMPOTENCY_KEY_CONFLICT');

    const rows = await t.db.selectFrom('notifications').select(['id', 'batch_id']).where('recipient', '=', `${receiver.url}/idem-batch`).execute();
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(new Set(rows.map((r) => r.batch_id))).toEqual(new Set([batch_id]));
    for (const id of ids) expect(await jobsOf(id)).toHaveLength(1);
    await settled(t, await send(t, { channel: 'webhook', recipient: `${receiver.url}/idem-marker`, content: 'marker' }), 'sent');
    expect(receiver.received.filter((r) => r.path === '/idem-batch').map((r) => r.headers['webhook-id']).sort()).toEqual([...ids].sort());
  });
});

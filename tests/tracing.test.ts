// SPEC section 12 end to end: real service processes started as `npm start` starts them (with the
// tracing hook), exporting to an OTLP/HTTP receiver inside the test (JSON encoding), delivering
// to a real webhook receiver. Every wait polls with a deadline.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/adapters/free-port.ts';
import { createTestDatabase } from './helpers/test-database.ts';
import { eventually, startHttpReceiver, type HttpReceiver } from './helpers/receivers.ts';
import { SpanKind, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './helpers/otlp-receiver.ts';
import { killAllWorkers, startServiceProcess, type WorkerProcess } from './helpers/worker-process.ts';

const ADMIN_API_KEY = 'test-admin-key-0123456789abcdef';
const moduleProbe = `--import=${new URL('./helpers/telemetry-module-probe.ts', import.meta.url).href}`;
const traceparentFormat = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let webhooks: HttpReceiver;
beforeAll(async () => {
  database = await createTestDatabase();
  webhooks = await startHttpReceiver();
});
afterAll(async () => {
  await killAllWorkers();
  await webhooks?.close();
  await database?.drop();
});

interface Running {
  process: WorkerProcess;
  base: string;
}

/** `npm start`'s `all` role on the test database, with the given OTEL_* variables. */
async function startTocsin(env: Record<string, string>, nodeArgs: string[] = []): Promise<Running> {
  const port = await freePort();
  const process = await startServiceProcess(
    'all',
    { DATABASE_URL: database.url, PORT: String(port), ADMIN_API_KEY, ALLOW_PRIVATE_TARGETS: 'true', LOG_LEVEL: 'info', OTEL_BSP_SCHEDULE_DELAY: '50', RETRY_BACKOFF: '200ms', ...env },
    { nodeArgs: [moduleProbe, ...nodeArgs] },
  );
  return { process, base: `http://127.0.0.1:${port}` };
}

/** Stops the service as an operator would; SPEC section 1: it exits 0. */
async function stop(running: Running): Promise<void> {
  running.process.child.kill('SIGTERM');
  const exit = await running.process.exited;
  expect(exit, running.process.output()).toEqual({ code: 0, signal: null });
}

const call = (running: Running, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  fetch(`${running.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_API_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

const logLines = (running: Running) =>
  running.process
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

const loadedTelemetry = (running: Running) => JSON.parse(/telemetry modules loaded: (.*)/.exec(running.process.output())?.[1] ?? 'null') as string[] | null;

const query = (span: ReceivedSpan) => String(span.attributes['db.query.text'] ?? span.attributes['db.statement'] ?? '');

/** True when `span` descends from `ancestor` through spans the receiver holds. */
function descendsFrom(span: ReceivedSpan, ancestor: ReceivedSpan, spans: ReceivedSpan[]): boolean {
  for (let current: ReceivedSpan | undefined = span; current; current = spans.find((s) => s.spanId === current!.parentSpanId)) {
    if (current.parentSpanId === ancestor.spanId) return true;
  }
  return false;
}

describe('a traced service (OTEL_EXPORTER_OTLP_ENDPOINT set)', () => {
  let otlp: OtlpReceiver;
  let tocsin: Running;
  beforeAll(async () => {
    otlp = await startOtlpReceiver();
    tocsin = await startTocsin({ OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
  });
  afterAll(async () => {
    await otlp?.close();
  });

  /** Waits for the server span of the first request to `route` with `method`. */
  const serverSpan = (method: string, route: string) =>
    eventually(
      () => otlp.spans.find((s) => s.kind === SpanKind.SERVER && s.attributes['http.route'] === route && s.name === `${method} ${route}`),
      20_000,
      `the server span of ${method} ${route}`,
    );

  it('follows a notification request in one trace: server span, route span, its SQL; the webhook carries traceparent; its logs carry the trace id', async () => {
    const requestId = `traced-${Date.now()}`;
    const path = `/hooks/${requestId}/secret-token`;
    const created = await call(tocsin, 'POST', '/v1/notifications', { channel: 'webhook', recipient: `${webhooks.url}${path}?sig=s3cret`, subject: 'Disk full', content: 'db-1 at 99%' }, { 'x-request-id': requestId });
    expect(created.status, await created.clone().text()).toBe(201);

    const server = await serverSpan('POST', '/v1/notifications');
    expect(server.parentSpanId).toBeUndefined();
    expect(server.resource['service.name']).toBe('tocsin');
    // @fastify/otel makes the server span, named by route (no second span for the same request).
    expect(server.scope).toBe('@fastify/otel');
    expect(server.attributes['http.request.method']).toBe('POST');
    expect(server.attributes['http.response.status_code']).toBe(201);
    expect(server.attributes['url.path']).toBe('/v1/notifications');
    const inTrace = () => otlp.spans.filter((s) => s.traceId === server.traceId);
    // Its SQL: the notification row and the job that pg-boss enqueues in the same transaction,
    // each a span in the request's trace under the server span. Statements, never values.
    const insert = await eventually(() => inTrace().find((s) => /insert into notifications/i.test(query(s))), 20_000, 'the INSERT span');
    const publish = await eventually(() => inTrace().find((s) => /insert into pgboss\.job/i.test(query(s))), 20_000, 'the job INSERT span');
    for (const sql of [insert, publish]) {
      expect(sql.scope).toBe('@opentelemetry/instrumentation-pg');
      expect(sql.kind).toBe(SpanKind.CLIENT);
      expect(descendsFrom(sql, server, otlp.spans)).toBe(true);
    }
    expect(JSON.stringify(inTrace())).not.toContain('db-1 at 99%');

    // The webhook call: a client span of the same trace (the job carried the request's context
    // to the worker), whose context the receiver got as a W3C traceparent.
    const delivered = await eventually(() => webhooks.received.find((r) => r.path.startsWith(path)), 20_000, 'the webhook');
    const [, traceId, parentId] = traceparentFormat.exec(String(delivered.headers.traceparent)) ?? [];
    expect(traceId, String(delivered.headers.traceparent)).toBe(server.traceId);
    const client = await eventually(() => otlp.spans.find((s) => s.spanId === parentId), 20_000, 'the webhook client span');
    expect(client).toMatchObject({ traceId, kind: SpanKind.CLIENT, scope: 'tocsin', name: 'POST' });
    // The consumer span between them ends (and is exported) after the client span.
    await eventually(() => descendsFrom(client, server, otlp.spans), 20_000, 'the chain from the server span to the client span');
    expect(client.attributes['http.response.status_code']).toBe(200);
    // The customer's URL is a credential (Slack's is): only its origin is kept.
    expect(client.attributes['url.full']).toBe(`${webhooks.url}/[redacted]`);
    expect(client.attributes).toMatchObject({ 'http.request.method': 'POST', 'server.address': '127.0.0.1', 'server.port': Number(new URL(webhooks.url).port), 'url.scheme': 'http' });
    expect(client.status?.code ?? 0).not.toBe(2); // not ERROR
    expect(JSON.stringify(client)).not.toMatch(/secret-token|s3cret/);

    // SPEC section 12: every log line of the request carries its trace and a span of it.
    const lines = logLines(tocsin).filter((line) => line.request_id === requestId);
    expect(lines.map((line) => line.msg)).toEqual(expect.arrayContaining(['incoming request', 'request completed']));
    const spanIds = new Set(inTrace().map((s) => s.spanId));
    for (const line of lines) {
      expect(line.trace_id).toBe(server.traceId);
      expect(spanIds.has(String(line.span_id))).toBe(true);
    }
  });

  it('keeps a request whose body arrives in parts inside its server span, on Node 22 too', async () => {
    // A body that comes in two reads, 100 ms apart: the rest of the request then starts from an
    // event of the socket, which runs outside the span unless something carries the context
    // across (Fastify's content-type parser does; tracing-sdk.ts's requestHook no longer binds
    // the stream). A small body read with the headers would not show it. Node 22 (package.json's
    // engines) propagates async context without AsyncContextFrame: --no-async-context-frame on
    // Node 24, where the frame is the default (Node 22 knows no such flag, and has no frame).
    const withoutFrame = Number(process.versions.node.split('.')[0]) >= 24 ? ['--no-async-context-frame'] : [];
    const node22 = await startTocsin({ OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, withoutFrame);
    try {
      await bodyInParts(tocsin);
      await bodyInParts(node22);
    } finally {
      await stop(node22);
    }
  }, 60_000);

  async function bodyInParts(running: Running): Promise<void> {
    const requestId = `parts-${Date.now()}`;
    const body = JSON.stringify({ channel: 'webhook', recipient: `${webhooks.url}/parts`, content: 'x'.repeat(50_000) });
    const answer = await new Promise<number>((resolve, reject) => {
      const request = http.request(`${running.base}/v1/notifications`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_API_KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-request-id': requestId },
      });
      request.on('response', (response) => {
        response.resume();
        resolve(response.statusCode!);
      });
      request.on('error', reject);
      request.write(body.slice(0, 1000));
      setTimeout(() => request.end(body.slice(1000)), 100);
    });
    expect(answer).toBe(201);
    const server = await eventually(
      () => otlp.spans.find((s) => s.kind === SpanKind.SERVER && s.name === 'POST /v1/notifications' && logLines(running).some((l) => l.request_id === requestId && l.trace_id === s.traceId)),
      20_000,
      'the server span of the request in parts',
    );
    const insert = await eventually(
      () => otlp.spans.find((s) => s.traceId === server.traceId && /insert into notifications/i.test(query(s))),
      20_000,
      'its INSERT span, in the same trace',
    );
    expect(descendsFrom(insert, server, otlp.spans)).toBe(true);
  }

  /** A team whose escalation policy pages, at once, a user reachable by webhook at `path`. */
  async function teamPaging(path: string): Promise<string> {
    const tag = path.replaceAll('/', '');
    const user = await call(tocsin, 'POST', '/v1/users', { name: tag, email: `${tag}@example.com`, contact_methods: [{ type: 'webhook', address: `${webhooks.url}${path}` }] });
    expect(user.status, await user.clone().text()).toBe(201);
    const userId = ((await user.json()) as { id: string }).id;
    const policy = await call(tocsin, 'POST', '/v1/escalation-policies', { name: tag, levels: [{ delay_seconds: 0, user_ids: [userId] }] });
    expect(policy.status, await policy.clone().text()).toBe(201);
    const team = await call(tocsin, 'POST', '/v1/teams', { name: tag, member_ids: [userId], escalation_policy_id: ((await policy.json()) as { id: string }).id });
    expect(team.status, await team.clone().text()).toBe(201);
    return ((await team.json()) as { id: string }).id;
  }

  /** Opens an incident of `team` and returns its server span. */
  async function openIncident(team: string, requestId: string): Promise<ReceivedSpan> {
    const created = await call(tocsin, 'POST', '/v1/incidents', { title: 'Checkout is down', severity: 'P1', team_id: team }, { 'x-request-id': requestId });
    expect(created.status, await created.clone().text()).toBe(201);
    return eventually(
      () => otlp.spans.find((s) => s.kind === SpanKind.SERVER && s.name === 'POST /v1/incidents' && logLines(tocsin).some((l) => l.request_id === requestId && l.trace_id === s.traceId)),
      20_000,
      'the server span of POST /v1/incidents',
    );
  }

  it('follows an incident that pages a webhook through the queue and the worker in one trace', async () => {
    const path = `/paged-${Date.now()}`;
    const requestId = `incident-${Date.now()}`;
    const server = await openIncident(await teamPaging(path), requestId);
    const inTrace = () => otlp.spans.filter((s) => s.traceId === server.traceId);

    // The webhook got the trace: its traceparent names the provider client span of this trace.
    const delivered = await eventually(() => webhooks.received.find((r) => r.path === path), 20_000, 'the page');
    const [, traceId, clientId] = traceparentFormat.exec(String(delivered.headers.traceparent)) ?? [];
    expect(traceId).toBe(server.traceId);
    const client = await eventually(() => inTrace().find((s) => s.spanId === clientId), 20_000, 'the provider client span');
    expect(client).toMatchObject({ kind: SpanKind.CLIENT, scope: 'tocsin' });

    // The chain: server span > ... > publish (PRODUCER, whose SQL inserts the job) > process
    // (CONSUMER, child of the publish span: the job was due at once) > ... > the client span.
    const publish = inTrace().find((s) => s.kind === SpanKind.PRODUCER && s.name === 'publish notify-webhook');
    expect(publish, JSON.stringify(inTrace().map((s) => s.name))).toBeDefined();
    expect(descendsFrom(publish!, server, otlp.spans)).toBe(true);
    expect(inTrace().some((s) => s.parentSpanId === publish!.spanId && /insert into pgboss\.job/i.test(query(s)))).toBe(true);
    const consumer = await eventually(() => inTrace().find((s) => s.kind === SpanKind.CONSUMER && s.parentSpanId === publish!.spanId), 20_000, 'the consumer span');
    expect(consumer).toMatchObject({ name: 'process notify-webhook', links: [] });
    expect(consumer.attributes).toMatchObject({ 'messaging.system': 'pg-boss', 'messaging.destination.name': 'notify-webhook' });
    expect(descendsFrom(client, consumer, otlp.spans)).toBe(true);
    // The request's SQL and the worker's (the claim, the outcome) are in the trace too.
    expect(inTrace().some((s) => /insert into incidents/i.test(query(s)) && descendsFrom(s, server, otlp.spans))).toBe(true);
    await eventually(() => inTrace().some((s) => s.scope === '@opentelemetry/instrumentation-pg' && descendsFrom(s, consumer, otlp.spans)), 20_000, 'the worker SQL');

    // Every log line of the request carries its trace.
    const lines = logLines(tocsin).filter((line) => line.request_id === requestId);
    expect(lines.map((line) => line.msg)).toEqual(expect.arrayContaining(['incoming request', 'request completed']));
    for (const line of lines) expect(line.trace_id).toBe(server.traceId);
  });

  it('starts a new trace for a retry, linked to the span that enqueued it, not parented by it', async () => {
    const path = `/retried-${Date.now()}`;
    webhooks.respond = (request) => (request.path === path && webhooks.received.filter((r) => r.path === path).length === 1 ? { status: 500, body: 'busy' } : { status: 200, body: '{}' });
    const server = await openIncident(await teamPaging(path), `retry-${Date.now()}`);
    const [first, second] = await eventually(() => {
      const calls = webhooks.received.filter((r) => r.path === path);
      return calls.length >= 2 && calls;
    }, 20_000, 'the page and its retry');
    const traceOf = (request: typeof first) => traceparentFormat.exec(String(request!.headers.traceparent))?.[1];
    expect(traceOf(first)).toBe(server.traceId);
    const retryTrace = traceOf(second);
    expect(retryTrace).toBeDefined();
    expect(retryTrace).not.toBe(server.traceId);

    // The first attempt's consumer span enqueued the retry (its publish span, in the request's
    // trace); the retry's consumer span is the root of a new trace and links to that publish span.
    const retryPublish = await eventually(
      () => otlp.spans.find((s) => s.traceId === server.traceId && s.kind === SpanKind.PRODUCER && otlp.spans.some((c) => c.spanId === s.parentSpanId && c.kind === SpanKind.CONSUMER)),
      20_000,
      'the publish span of the retry',
    );
    const retryConsumer = await eventually(() => otlp.spans.find((s) => s.traceId === retryTrace && s.kind === SpanKind.CONSUMER), 20_000, 'the consumer span of the retry');
    expect(retryConsumer.parentSpanId).toBeUndefined();
    expect(retryConsumer.links).toEqual([{ traceId: server.traceId, spanId: retryPublish.spanId }]);
    const retryClient = await eventually(() => otlp.spans.find((s) => s.traceId === retryTrace && s.kind === SpanKind.CLIENT && s.scope === 'tocsin'), 20_000, 'the retry client span');
    expect(descendsFrom(retryClient, retryConsumer, otlp.spans)).toBe(true);
    // The first call's span says how it ended: a 500 is an error of the call.
    const failed = await eventually(() => otlp.spans.find((s) => s.traceId === server.traceId && s.kind === SpanKind.CLIENT && s.scope === 'tocsin'), 20_000, 'the first client span');
    expect(failed.attributes).toMatchObject({ 'http.response.status_code': 500, 'error.type': '500' });
    expect(failed.status?.code).toBe(2);
  });

  it('runs a delayed job (a heartbeat check) in a new trace linked to the request that armed it; the worker logs into it', async () => {
    const name = `hb-${Date.now()}`;
    const created = await call(tocsin, 'POST', '/v1/heartbeats', { name, interval_seconds: 1 });
    expect(created.status, await created.clone().text()).toBe(201);
    const heartbeatId = ((await created.json()) as { id: string }).id;
    const server = await serverSpan('POST', '/v1/heartbeats');
    const publish = await eventually(() => otlp.spans.find((s) => s.traceId === server.traceId && s.name === 'publish heartbeat-check'), 20_000, 'the publish span');
    expect(publish.kind).toBe(SpanKind.PRODUCER);

    // Nobody pings: the check runs when due, finds it missed and logs it, inside its consumer span.
    const missed = await eventually(() => logLines(tocsin).find((l) => l.msg === 'heartbeat missed: incident opened' && l.heartbeat_id === heartbeatId), 20_000, 'the miss');
    const consumer = await eventually(() => otlp.spans.find((s) => s.spanId === missed.span_id), 20_000, 'the consumer span of the check');
    expect(consumer).toMatchObject({ name: 'process heartbeat-check', kind: SpanKind.CONSUMER, traceId: missed.trace_id, links: [{ traceId: server.traceId, spanId: publish.spanId }] });
    expect(consumer.parentSpanId).toBeUndefined();
  });

  it('makes no span for /health, /ready and /metrics, and no root span for the queue polling its tables', async () => {
    for (let round = 0; round < 3; round++) {
      for (const probe of ['/health', '/ready', '/metrics', '/health?verbose=1']) expect((await call(tocsin, 'GET', probe)).status).toBe(200);
    }
    // Spans are exported in the order they end, each export after the previous one answered:
    // once this later request's span has arrived, a probe's span would have arrived too.
    expect((await call(tocsin, 'GET', '/v1/notifications?limit=1')).status).toBe(200);
    await serverSpan('GET', '/v1/notifications');

    const paths = otlp.spans.map((s) => String(s.attributes['url.path'] ?? s.attributes['http.target'] ?? ''));
    for (const probe of ['/health', '/ready', '/metrics']) expect(paths.filter((p) => p.startsWith(probe))).toEqual([]);
    expect(otlp.spans.filter((s) => s.kind === SpanKind.SERVER).map((s) => s.name)).not.toEqual(
      expect.arrayContaining([expect.stringMatching(/health|ready|metrics/)]),
    );
    // pg-boss has polled and maintained its tables meanwhile: none of that is a trace of its own.
    expect(otlp.spans.filter((s) => s.scope === '@opentelemetry/instrumentation-pg' && !s.parentSpanId)).toEqual([]);
    expect(otlp.problems).toEqual([]);
  });

  it('keeps intake keys out of the spans (SPEC section 2: they are secrets)', async () => {
    const key = `hbkey${Date.now()}secret`;
    expect((await call(tocsin, 'POST', `/v1/heartbeats/${key}/ping`)).status).toBe(404);
    const server = await serverSpan('POST', '/v1/heartbeats/:key/ping');
    expect(server.attributes['url.path']).toBe('/v1/heartbeats/[redacted]/ping');
    expect(JSON.stringify(otlp.spans)).not.toContain(key);
    // An action link's token acknowledges as the person paged (SPEC section 10); a query string
    // may hold what someone searched for. Neither reaches a span.
    const token = `actiontoken${Date.now()}`;
    expect((await call(tocsin, 'GET', `/a/${token}`)).status).toBe(404);
    const action = await serverSpan('GET', '/a/:token');
    expect(action.attributes['url.path']).toBe('/a/[redacted]');
    expect((await call(tocsin, 'GET', '/v1/incidents?q=payroll-secret-word')).status).toBe(200);
    const search = await serverSpan('GET', '/v1/incidents');
    expect(search.attributes['url.path']).toBe('/v1/incidents');
    // No route matches this one, and its key is redacted all the same.
    const stray = `straykey${Date.now()}`;
    expect((await call(tocsin, 'GET', `/v1/heartbeats/${stray}/ping/extra`)).status).toBe(404);
    await eventually(() => otlp.spans.find((s) => s.kind === SpanKind.SERVER && s.attributes['url.path'] === '/v1/heartbeats/[redacted]/ping/extra'), 20_000, 'the 404 span');
    expect(JSON.stringify(otlp.spans)).not.toContain(token);
    expect(JSON.stringify(otlp.spans)).not.toContain(stray);
    expect(JSON.stringify(otlp.spans)).not.toContain('payroll-secret-word');
  });

  it('exports what it still holds and exits 0 on SIGTERM', async () => {
    await stop(tocsin);
    expect(loadedTelemetry(tocsin)).toEqual(expect.arrayContaining(['@opentelemetry/sdk-node', '@opentelemetry/instrumentation-pg', '@fastify/otel']));
    expect(otlp.problems).toEqual([]);
  });
});

describe('a service without OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('loads no tracing module and exports nothing, whatever the other OTEL_* variables say', async () => {
    const otlp = await startOtlpReceiver();
    try {
      const tocsin = await startTocsin({
        // A signal-specific endpoint is not the switch; an invalid sampler is not even read.
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${otlp.url}/v1/traces`,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_TRACES_SAMPLER: 'sometimes',
        OTEL_SERVICE_NAME: 'tocsin-untraced',
      });
      const path = `/untraced-${Date.now()}`;
      expect((await call(tocsin, 'POST', '/v1/notifications', { channel: 'webhook', recipient: `${webhooks.url}${path}`, content: 'hello' })).status).toBe(201);
      const delivered = await eventually(() => webhooks.received.find((r) => r.path === path), 20_000, 'the webhook');
      expect(delivered.headers.traceparent).toBeUndefined();
      await stop(tocsin);
      expect(loadedTelemetry(tocsin)).toEqual([]);
      expect(logLines(tocsin).filter((line) => 'trace_id' in line)).toEqual([]);
      expect(otlp.requests()).toBe(0);
    } finally {
      await otlp.close();
    }
  });
});

describe('tracing configuration', () => {
  it('samples by OTEL_TRACES_SAMPLER: always_off exports nothing, yet passes an unsampled traceparent on', async () => {
    const otlp = await startOtlpReceiver();
    try {
      const tocsin = await startTocsin({ OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_TRACES_SAMPLER: 'always_off' });
      const path = `/unsampled-${Date.now()}`;
      expect((await call(tocsin, 'POST', '/v1/notifications', { channel: 'webhook', recipient: `${webhooks.url}${path}`, content: 'hello' })).status).toBe(201);
      const delivered = await eventually(() => webhooks.received.find((r) => r.path === path), 20_000, 'the webhook');
      expect(String(delivered.headers.traceparent)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      await stop(tocsin); // flushes whatever was recorded: nothing
      expect(otlp.requests()).toBe(0);
    } finally {
      await otlp.close();
    }
  });

  it('exports OTLP/HTTP protobuf when no protocol is given', async () => {
    const otlp = await startOtlpReceiver();
    try {
      const tocsin = await startTocsin({ OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url });
      expect((await call(tocsin, 'GET', '/v1/notifications?limit=1')).status).toBe(200);
      // The JSON receiver refuses it and says what it got.
      await eventually(() => otlp.problems.find((problem) => problem === 'POST /v1/traces application/x-protobuf'), 20_000, 'a protobuf export');
      await stop(tocsin);
    } finally {
      await otlp.close();
    }
  });

  it('stops at start on a bad tracing variable, naming it', async () => {
    const started = startTocsin({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_TRACES_SAMPLER: 'sometimes' });
    await expect(started).rejects.toThrow(/OTEL_TRACES_SAMPLER must be one of always_on, .*; got "sometimes"/);
    await expect(started).rejects.toThrow(/telemetry modules loaded: \[\]/);
  });
});

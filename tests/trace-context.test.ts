// The helpers that carry a trace through the queue (SPEC section 12), against the real
// OpenTelemetry SDK in this process with an in-memory exporter. The end-to-end trace through a
// real service is tests/tracing.test.ts.
import * as api from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { injectTraceContext, jobTrace, withClientSpan, withConsumerSpan, withJobPublishSpan, withJobSpan, withPublishSpan, type TraceCarrier } from '../src/adapters/telemetry/trace-context.ts';
import { setActiveTracing, shutdownTracing } from '../src/adapters/telemetry/tracing-state.ts';
import { clientUrlAttributes, isUntracedPath, serverSpanPath } from '../src/adapters/telemetry/span-urls.ts';

const someCarrier: TraceCarrier = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };

// Runs first: tests in a file run in order, and the SDK below is started only after it.
describe('with tracing off', () => {
  it('every helper calls straight through, and no context is carried', async () => {
    expect(injectTraceContext()).toBeUndefined();
    expect(await withPublishSpan('publish deliver-webhook', async () => injectTraceContext())).toBeUndefined();
    const inside = await withConsumerSpan('process deliver-webhook', [someCarrier], true, async () => ({ span: api.trace.getActiveSpan(), carried: injectTraceContext() }));
    expect(inside).toEqual({ span: undefined, carried: undefined });
    await expect(withConsumerSpan('process deliver-webhook', [someCarrier], false, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    // What the queue adapters call: a job's data gains nothing, the worker's span is no span.
    expect(await withJobPublishSpan('notify-webhook', 1, async () => ({ notification_id: 'n', ...jobTrace(false) }))).toEqual({ notification_id: 'n' });
    expect(await withJobSpan('notify-webhook', [{ id: 'j', data: { ...someCarrier }, retryCount: 0 }], async () => api.trace.getActiveSpan())).toBeUndefined();
    expect(await withClientSpan('smtp send', {}, async () => api.trace.getActiveSpan())).toBeUndefined();
  });
});

describe('with tracing on', () => {
  const exporter = new InMemorySpanExporter();
  const spans = () => exporter.getFinishedSpans();
  const named = (name: string): ReadableSpan => {
    const span = spans().find((s) => s.name === name);
    expect(span, `a span named ${name} among ${spans().map((s) => s.name).join(', ')}`).toBeDefined();
    return span!;
  };

  beforeAll(() => {
    // No resource detection: its asynchronous attributes would delay each export past the assertions.
    const sdk = new NodeSDK({
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
      autoDetectResources: false,
      metricReaders: [],
      logRecordProcessors: [],
      instrumentations: [],
    });
    sdk.start();
    setActiveTracing({ api, shutdown: () => sdk.shutdown() });
  });
  afterAll(async () => {
    await shutdownTracing();
  });
  beforeEach(() => exporter.reset());

  /** What a request does: a span, inside it a publish span whose context the job carries. */
  const enqueue = () =>
    api.trace.getTracer('test').startActiveSpan('POST /v1/notifications', async (request) => {
      try {
        return await withPublishSpan('publish deliver-webhook', async () => injectTraceContext()!, { 'messaging.destination.name': 'deliver-webhook' });
      } finally {
        request.end();
      }
    });

  it('a job carries the W3C context of the span that enqueued it: its publish span', async () => {
    expect(injectTraceContext()).toBeUndefined(); // no active span, nothing to carry
    const carrier = await enqueue();
    const publish = named('publish deliver-webhook');
    expect(carrier.traceparent).toBe(`00-${publish.spanContext().traceId}-${publish.spanContext().spanId}-01`);
    expect(publish.kind).toBe(api.SpanKind.PRODUCER);
    expect(publish.parentSpanContext?.spanId).toBe(named('POST /v1/notifications').spanContext().spanId);
    expect(publish.attributes).toMatchObject({ 'messaging.operation.type': 'send', 'messaging.destination.name': 'deliver-webhook' });
  });

  it('a job due at once is processed in a child of its publish span, active for the work', async () => {
    const carrier = await enqueue();
    const active = await withConsumerSpan('process deliver-webhook', [carrier], true, async () => api.trace.getActiveSpan()?.spanContext());
    const publish = named('publish deliver-webhook');
    const consumer = named('process deliver-webhook');
    expect(consumer.kind).toBe(api.SpanKind.CONSUMER);
    expect(consumer.spanContext().traceId).toBe(publish.spanContext().traceId);
    expect(consumer.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
    expect(consumer.links).toEqual([]);
    expect(active?.spanId).toBe(consumer.spanContext().spanId);
  });

  it('a retry or a delayed step starts a new trace linked to the publish span', async () => {
    const carrier = await enqueue();
    await withConsumerSpan('process deliver-webhook', [carrier], false, async () => undefined);
    const publish = named('publish deliver-webhook');
    const consumer = named('process deliver-webhook');
    expect(consumer.spanContext().traceId).not.toBe(publish.spanContext().traceId);
    expect(consumer.parentSpanContext).toBeUndefined();
    expect(consumer.links.map((link) => link.context.spanId)).toEqual([publish.spanContext().spanId]);
  });

  it('a batch links every job it carries, and a job enqueued outside any trace adds no link', async () => {
    const carriers = [await enqueue(), await enqueue(), undefined, await enqueue()];
    const publishes = spans().filter((s) => s.name === 'publish deliver-webhook').map((s) => s.spanContext().spanId);
    await withConsumerSpan('process deliver-webhook', carriers, true, async () => undefined, { 'messaging.destination.name': 'deliver-webhook' });
    const consumer = named('process deliver-webhook');
    expect(consumer.parentSpanContext).toBeUndefined();
    expect(consumer.links.map((link) => link.context.spanId)).toEqual(publishes);
    expect(consumer.attributes).toMatchObject({ 'messaging.batch.message_count': 4, 'messaging.destination.name': 'deliver-webhook' });
  });

  it('a batch of jobs enqueued by one insert links its publish span once', async () => {
    const carrier = await enqueue();
    await withConsumerSpan('process deliver-webhook', [carrier, { ...carrier }, carrier], true, async () => undefined);
    const consumer = named('process deliver-webhook');
    expect(consumer.links.map((link) => link.context.spanId)).toEqual([named('publish deliver-webhook').spanContext().spanId]);
    expect(consumer.attributes['messaging.batch.message_count']).toBe(3);
  });

  /** Enqueues one job as the queue adapters do, in a request span; returns its data. */
  const enqueueJob = (deferred: boolean) =>
    api.trace.getTracer('test').startActiveSpan('POST /v1/incidents', async (request) => {
      try {
        return await withJobPublishSpan('notify-webhook', 1, async () => ({ notification_id: 'n', ...jobTrace(deferred) }));
      } finally {
        request.end();
      }
    });

  it("a job's data carries traceparent, and trace_deferred when it does not run at once", async () => {
    const due = await enqueueJob(false);
    const publish = named('publish notify-webhook');
    expect(due).toEqual({ notification_id: 'n', traceparent: `00-${publish.spanContext().traceId}-${publish.spanContext().spanId}-01` });
    expect(publish.attributes).toMatchObject({ 'messaging.system': 'pg-boss', 'messaging.destination.name': 'notify-webhook' });
    expect(await enqueueJob(true)).toMatchObject({ traceparent: expect.any(String), trace_deferred: true });
  });

  it('a worker processes a first run of a job due at once as a child; a deferred job, a retried run or a batch as links', async () => {
    const cases = [
      { jobs: [{ id: 'a', data: await enqueueJob(false), retryCount: 0 }], child: true },
      { jobs: [{ id: 'b', data: await enqueueJob(true), retryCount: 0 }], child: false },
      { jobs: [{ id: 'c', data: await enqueueJob(false), retryCount: 1 }], child: false },
      { jobs: [{ id: 'd', data: await enqueueJob(false), retryCount: 0 }, { id: 'e', data: await enqueueJob(false), retryCount: 0 }], child: false },
    ];
    for (const { jobs, child } of cases) {
      exporter.reset();
      await withJobSpan('notify-webhook', jobs, async () => undefined);
      const consumer = named('process notify-webhook');
      const parents = jobs.map((job) => job.data.traceparent!.split('-')[2]);
      if (child) {
        expect(consumer.parentSpanContext?.spanId).toBe(parents[0]);
        expect(consumer.links).toEqual([]);
        expect(consumer.attributes['messaging.message.id']).toBe('a');
      } else {
        expect(consumer.parentSpanContext).toBeUndefined();
        expect(consumer.links.map((link) => link.context.spanId)).toEqual(parents);
      }
    }
  });

  it('an SMTP send is a client span, its failure recorded', async () => {
    await expect(withClientSpan('smtp send', { 'server.address': 'mail.example.com' }, async () => Promise.reject(new Error('421 busy')))).rejects.toThrow('421 busy');
    const client = named('smtp send');
    expect(client.kind).toBe(api.SpanKind.CLIENT);
    expect(client.status.code).toBe(api.SpanStatusCode.ERROR);
  });

  it('a job without context is processed in a new trace of its own', async () => {
    await withConsumerSpan('process escalate', [undefined], true, async () => undefined);
    const consumer = named('process escalate');
    expect(consumer.parentSpanContext).toBeUndefined();
    expect(consumer.links).toEqual([]);
  });

  it('a failed job ends its span as an error and the failure still reaches the caller', async () => {
    await expect(withConsumerSpan('process deliver-email', [await enqueue()], true, async () => Promise.reject(new Error('SMTP 451')))).rejects.toThrow('SMTP 451');
    const consumer = named('process deliver-email');
    expect(consumer.status).toEqual({ code: api.SpanStatusCode.ERROR, message: 'SMTP 451' });
    expect(consumer.events.map((event) => event.name)).toEqual(['exception']);
  });
});

describe("a provider call's URL attributes", () => {
  it('keep the origin only, name the server without brackets, and say nothing of a URL that does not parse', () => {
    expect(clientUrlAttributes('https://hooks.slack.com/services/T1/B2/s3cret?x=1')).toEqual({
      'url.full': 'https://hooks.slack.com/[redacted]',
      'url.scheme': 'https',
      'server.address': 'hooks.slack.com',
      'server.port': 443,
    });
    expect(clientUrlAttributes('http://[::1]:8080/hook')).toMatchObject({ 'server.address': '::1', 'server.port': 8080, 'url.full': 'http://[::1]:8080/[redacted]' });
    expect(clientUrlAttributes('http://example.com/')).toMatchObject({ 'url.full': 'http://example.com/', 'server.port': 80 });
    expect(clientUrlAttributes('not a url')).toEqual({});
  });
});

describe('which requests are not traced (SPEC section 12)', () => {
  it('the probes and the stream connections, with or without a query string; nothing that only begins like them', () => {
    for (const url of ['/health', '/ready', '/metrics', '/health?x=1', '/v1/stream', '/v1/stream?types=incident.created', '/v1/ws', '/v1/ws?ticket=t', '/v1/stream/x']) {
      expect(isUntracedPath(url), url).toBe(true);
    }
    for (const url of ['/', '/healthz', '/metrics/x', '/v1/streams', '/v1/stream-tickets', '/v1/wsx', '/v1/incidents', '/v1/incidents?q=/v1/stream', '/x/v1/stream', 'health']) {
      expect(isUntracedPath(url), url).toBe(false);
    }
  });
});

describe("a server span's url.path (SPEC sections 2 and 12)", () => {
  it('is the path alone, with the secret segments of a parametric route, or of an unmatched URL, redacted', () => {
    expect(serverSpanPath('/v1/incidents?q=secret-word', '/v1/incidents')).toBe('/v1/incidents');
    expect(serverSpanPath('/v1/incidents', '/v1/incidents')).toBe('/v1/incidents');
    expect(serverSpanPath('/v1/heartbeats/k3y/ping?x=1', '/v1/heartbeats/:key/ping')).toBe('/v1/heartbeats/[redacted]/ping');
    expect(serverSpanPath('/v1/integrations/k3y/alertmanager', '/v1/integrations/:key/alertmanager')).toBe('/v1/integrations/[redacted]/alertmanager');
    expect(serverSpanPath('/v1/ical-feeds/t0ken.ics', '/v1/ical-feeds/:token.ics')).toBe('/v1/ical-feeds/[redacted]');
    expect(serverSpanPath('/a/t0ken', '/a/:token')).toBe('/a/[redacted]');
    expect(serverSpanPath('/v1/incidents/abc', '/v1/incidents/:id')).toBe('/v1/incidents/abc');
    // No route matched (a 404): the URL may still be a mistyped intake URL holding its key.
    expect(serverSpanPath('/v1/heartbeats/k3y/ping/extra', undefined)).toBe('/v1/heartbeats/[redacted]/ping/extra');
    expect(serverSpanPath('/a/t0ken/x?y=1', undefined)).toBe('/a/[redacted]/x');
  });
});

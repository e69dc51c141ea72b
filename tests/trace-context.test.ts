// The helpers that carry a trace through the queue (SPEC section 12), against the real
// OpenTelemetry SDK in this process with an in-memory exporter. The end-to-end trace through a
// real service is tests/tracing.test.ts.
import * as api from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { injectTraceContext, withConsumerSpan, withPublishSpan, type TraceCarrier } from '../src/adapters/telemetry/trace-context.ts';
import { setActiveTracing, shutdownTracing } from '../src/adapters/telemetry/tracing-state.ts';

const someCarrier: TraceCarrier = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };

// Runs first: tests in a file run in order, and the SDK below is started only after it.
describe('with tracing off', () => {
  it('every helper calls straight through, and no context is carried', async () => {
    expect(injectTraceContext()).toBeUndefined();
    expect(await withPublishSpan('publish deliver-webhook', async () => injectTraceContext())).toBeUndefined();
    const inside = await withConsumerSpan('process deliver-webhook', [someCarrier], true, async () => ({ span: api.trace.getActiveSpan(), carried: injectTraceContext() }));
    expect(inside).toEqual({ span: undefined, carried: undefined });
    await expect(withConsumerSpan('process deliver-webhook', [someCarrier], false, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
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

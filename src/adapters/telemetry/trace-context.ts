import type { Attributes, Context, Link, Span } from '@opentelemetry/api';
import { clientUrlAttributes } from './span-urls.ts';
import { activeTracing, type ActiveTracing } from './tracing-state.ts';

// SPEC section 12: one trace follows a request through the queue. A job carries the W3C trace
// context of the span that enqueued it; the worker's consumer span is a child of that span for
// a job due at once, and a new trace linked to it for a retry or a delayed step (a trace that
// stayed open for minutes would hide the request's own duration). With tracing off every helper
// here calls straight through: nothing is allocated, not even @opentelemetry/api is loaded.

/** W3C `traceparent` (and `tracestate`, `baggage` when present), stored in a job's data. */
export type TraceCarrier = Record<string, string>;

/**
 * The trace fields of a job's data: the carrier of the span that enqueued it, and
 * `trace_deferred` when the job was not due at once (a retry, a delayed step, a heartbeat
 * check), which makes its consumer span a link rather than a child. Absent with tracing off.
 */
export interface JobTrace {
  traceparent?: string;
  tracestate?: string;
  baggage?: string;
  trace_deferred?: true;
}

/** A job as a pg-boss worker receives it: `retryCount` > 0 is a retry after a failed run. */
interface ReceivedJob {
  id: string;
  data: JobTrace | null;
  retryCount?: number;
}

const tracerName = 'tocsin';

/** The trace context of the active span, for a job's data; undefined when there is none. */
export function injectTraceContext(): TraceCarrier | undefined {
  const tracing = activeTracing();
  if (!tracing) return undefined;
  const carrier: TraceCarrier = {};
  tracing.api.propagation.inject(tracing.api.context.active(), carrier);
  return carrier.traceparent ? carrier : undefined;
}

/**
 * The trace fields for a job enqueued now (call it inside `withPublishSpan`): spread them into
 * the job's data. `deferred`: the job does not run at once.
 */
export function jobTrace(deferred: boolean): JobTrace {
  const carrier = injectTraceContext();
  if (!carrier) return {};
  return deferred ? { ...carrier, trace_deferred: true } : carrier;
}

/** Runs `fn` and ends `span` after it, recording a failure on it. */
async function ending<T>({ api }: ActiveTracing, span: Span, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: (error as Error).message });
    throw error;
  } finally {
    span.end();
  }
}

/** Runs `fn` with `span` active in `parent`, and ends the span, recording a failure. */
function inSpan<T>(tracing: ActiveTracing, parent: Context, span: Span, fn: () => Promise<T>): Promise<T> {
  return ending(tracing, span, () => tracing.api.context.with(tracing.api.trace.setSpan(parent, span), fn));
}

/**
 * Runs `fn` in a PRODUCER span named `name` (e.g. `publish deliver-webhook`), so that the
 * `injectTraceContext()` calls inside it hand the jobs this span as their parent.
 */
export async function withPublishSpan<T>(name: string, fn: () => Promise<T>, attributes: Attributes = {}): Promise<T> {
  const tracing = activeTracing();
  if (!tracing) return fn();
  const { api } = tracing;
  const span = api.trace.getTracer(tracerName).startSpan(name, { kind: api.SpanKind.PRODUCER, attributes: { 'messaging.operation.type': 'send', ...attributes } });
  return inSpan(tracing, api.context.active(), span, fn);
}

/**
 * Runs `fn` in the CONSUMER span of a job or a batch of jobs. `carriers` are the jobs' trace
 * contexts (undefined for a job enqueued outside any trace). One job due at once: the span is a
 * child of the span that enqueued it. Otherwise (a retry, a delayed step, a batch of several
 * jobs): a new trace whose span links to every job's context (once each). The span is active in `fn`,
 * so the queries, the provider call and the log lines of the job belong to it.
 */
export async function withConsumerSpan<T>(
  name: string,
  carriers: readonly (TraceCarrier | null | undefined)[],
  dueAtOnce: boolean,
  fn: () => Promise<T>,
  attributes: Attributes = {},
): Promise<T> {
  const tracing = activeTracing();
  if (!tracing) return fn();
  const { api } = tracing;
  const contexts: Context[] = [];
  // Jobs enqueued by one insert carry one context (an incident paging twenty people, a batch
  // request): it is linked once.
  const seen = new Set<string>();
  for (const carrier of carriers) {
    if (!carrier || seen.has(carrier.traceparent!)) continue;
    seen.add(carrier.traceparent!);
    const extracted = api.propagation.extract(api.ROOT_CONTEXT, carrier);
    const spanContext = api.trace.getSpanContext(extracted);
    if (spanContext && api.trace.isSpanContextValid(spanContext)) contexts.push(extracted);
  }
  const asChild = dueAtOnce && carriers.length === 1 && contexts.length === 1;
  const links: Link[] = asChild ? [] : contexts.map((context) => ({ context: api.trace.getSpanContext(context)! }));
  const parent = asChild ? contexts[0]! : api.ROOT_CONTEXT;
  const span = api.trace.getTracer(tracerName).startSpan(
    name,
    {
      kind: api.SpanKind.CONSUMER,
      links,
      attributes: {
        'messaging.operation.type': 'process',
        ...(carriers.length > 1 ? { 'messaging.batch.message_count': carriers.length } : {}),
        ...attributes,
      },
    },
    parent,
  );
  return inSpan(tracing, parent, span, fn);
}

function carrierOf(data: JobTrace | null): TraceCarrier | undefined {
  if (!data?.traceparent) return undefined;
  const carrier: TraceCarrier = { traceparent: data.traceparent };
  if (data.tracestate) carrier.tracestate = data.tracestate;
  if (data.baggage) carrier.baggage = data.baggage;
  return carrier;
}

/**
 * The CONSUMER span `process <queue>` of a pg-boss batch: a child of the job's publish span when
 * the batch is one job due at once on its first run; otherwise a new trace linking every job.
 * With tracing off it only calls `fn` (nothing is read from the jobs).
 */
export function withJobSpan<T>(queue: string, jobs: readonly ReceivedJob[], fn: () => Promise<T>): Promise<T> {
  if (!activeTracing()) return fn();
  const dueAtOnce = jobs.every((job) => !job.data?.trace_deferred && !job.retryCount);
  return withConsumerSpan(`process ${queue}`, jobs.map((job) => carrierOf(job.data)), dueAtOnce, fn, {
    'messaging.system': 'pg-boss',
    'messaging.destination.name': queue,
    ...(jobs.length === 1 ? { 'messaging.message.id': jobs[0]!.id } : {}),
  });
}

/** The PRODUCER span `publish <queue>` around an insert of `count` jobs; see `jobTrace`. */
export function withJobPublishSpan<T>(queue: string, count: number, fn: () => Promise<T>): Promise<T> {
  if (!activeTracing()) return fn();
  return withPublishSpan(`publish ${queue}`, fn, {
    'messaging.system': 'pg-boss',
    'messaging.destination.name': queue,
    ...(count > 1 ? { 'messaging.batch.message_count': count } : {}),
  });
}

/**
 * A CLIENT span around a provider call that no instrumentation sees (SMTP: nodemailer speaks
 * over its own sockets). A thrown error is recorded on the span and passed on.
 */
export function withClientSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  const tracing = activeTracing();
  if (!tracing) return fn();
  const { api } = tracing;
  const span = api.trace.getTracer(tracerName).startSpan(name, { kind: api.SpanKind.CLIENT, attributes });
  return inSpan(tracing, api.context.active(), span, fn);
}

/** What a provider call's span records of its answer (an HTTP status, or why there was none). */
export interface HttpCallOutcome {
  status_code?: number;
  error?: string;
}

/**
 * The CLIENT span of a provider's HTTP call (SPEC section 12), and the request headers with its
 * W3C context added (`traceparent`), which `call` sends. Written here rather than by
 * @opentelemetry/instrumentation-undici, which made a traced worker deliver at 0.83 of untraced
 * against 1.0 without it (bench/tracing-cost.ts, 5 rounds each): it follows every request
 * through undici's diagnostics channels and builds its attributes from the parsed URL each time,
 * where this span is made once per call from a cached, already redacted URL (the provider's URL
 * keeps only its origin: span-urls.ts). With tracing off, `call` gets the headers as they are, and
 * its promise is returned as it is (an async function would wrap it in one more, for every delivery).
 * With tracing on, the context is added to `headers` itself: every provider builds them afresh
 * for each call.
 */
export function withHttpClientSpan<T extends HttpCallOutcome>(
  method: string,
  url: string,
  headers: Record<string, string>,
  call: (headers: Record<string, string>) => Promise<T>,
): Promise<T> {
  const tracing = activeTracing();
  if (!tracing) return call(headers);
  const { api } = tracing;
  // The URL's attributes are one cached object per URL (the span copies them into its own).
  const span = api.trace.getTracer(tracerName).startSpan(method, { kind: api.SpanKind.CLIENT, attributes: clientUrlAttributes(url) });
  span.setAttribute('http.request.method', method);
  // An unsampled span still passes its context on (flags 00), so the receiver's trace continues.
  api.propagation.inject(api.trace.setSpan(api.context.active(), span), headers);
  // The span is not made active around the call: nothing inside it (undici, which no
  // instrumentation follows here) makes spans or logs, and entering a context for each delivery
  // was a cost of its own. Nor is it ended by an async wrapper: two promises fewer per delivery.
  let pending: Promise<T>;
  try {
    pending = call(headers);
  } catch (error) {
    pending = Promise.reject(error as Error);
  }
  return pending.then(
    (outcome) => {
      const status = outcome.status_code;
      if (status !== undefined) span.setAttribute('http.response.status_code', status);
      // HTTP client conventions: a 4xx or 5xx answer, or no answer, is an error of the call.
      if (status === undefined ? outcome.error !== undefined : status >= 400) {
        span.setAttribute('error.type', status === undefined ? (/^([A-Z][A-Z0-9_]+):/.exec(outcome.error!)?.[1] ?? '_OTHER') : String(status));
        span.setStatus({ code: api.SpanStatusCode.ERROR, ...(status === undefined ? { message: outcome.error } : {}) });
      }
      span.end();
      return outcome;
    },
    (error: unknown) => {
      span.recordException(error as Error);
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: (error as Error).message });
      span.end();
      throw error;
    },
  );
}

/**
 * Runs `fn` outside any trace: for work done on behalf of many requests at once, which would
 * otherwise be charged to whichever request happened to start it (the coalesced NOTIFY of the
 * change feed). Its queries make no spans (the pg instrumentation requires a parent span).
 */
export function untraced<T>(fn: () => T): T {
  const tracing = activeTracing();
  return tracing ? tracing.api.context.with(tracing.api.ROOT_CONTEXT, fn) : fn();
}

/** A Fastify request as @fastify/otel decorates it (`opentelemetry()` exists only with tracing on). */
interface TracedRequest {
  url: string;
  opentelemetry?: () => { context?: Context | null };
}

/**
 * Runs `fn` inside the trace of a request's server span, so that what it logs carries the trace
 * (SPEC section 12). Without tracing, or for a request that is not traced, calls straight through.
 */
export function inRequestTrace<T>(request: TracedRequest, fn: () => T): T {
  const tracing = activeTracing();
  const context = tracing ? request.opentelemetry?.().context : undefined;
  return context ? tracing!.api.context.with(context, fn) : fn();
}

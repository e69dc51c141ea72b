import module from 'node:module';
import * as api from '@opentelemetry/api';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import { supportsSyncHooks, register as registerSyncHooks } from 'import-in-the-middle/register-hooks.mjs';
import { isUntracedPath, serverSpanPath } from './span-urls.ts';
import { setActiveTracing } from './tracing-state.ts';

// SPEC section 12: OpenTelemetry traces over OTLP/HTTP. Loaded by register.ts only when
// OTEL_EXPORTER_OTLP_ENDPOINT is set. Traces only: Tocsin's metrics are Prometheus (/metrics)
// and its logs are pino JSON on stdout, so the SDK's OTLP metric and log exporters stay off.

/** The instrumentations, listed one by one rather than the auto-instrumentation meta-package. */
function makeInstrumentations() {
  return [
    // The server span of each request: @fastify/otel on its own extracts the caller's W3C context
    // and makes the request's SERVER span, named here by route as the HTTP conventions say
    // (`POST /v1/incidents`). @opentelemetry/instrumentation-http is left out: under it this
    // span would be a second, INTERNAL one, and the two cost a traced POST /v1/incidents about 30%
    // more CPU than this one does (bench/tracing-cost.ts: traced throughput 0.73 of untraced with
    // both, 0.87-0.88 with this one alone).
    // Hook and handler spans are left out too: the queries of a hook or a handler show up as
    // spans of their own anyway.
    new FastifyOtelInstrumentation({
      registerOnInitialization: true,
      instrumentHooks: false,
      instrumentHandler: false,
      ignorePaths: (route: { url: string }) => isUntracedPath(route.url),
      requestHook: (span, request) => {
        const route = request.routeOptions.url;
        // @fastify/otel's url.path is the request's URL, query string included, and secrets in
        // the path as they came. It is rewritten first thing here, before the span can end and
        // be exported: the path alone (what the attribute means) with its secret segments
        // redacted. Done in this hook rather than by a span processor, which would look at every
        // span's attributes.
        const path = serverSpanPath(request.url, route);
        if (path !== request.url) span.setAttribute('url.path', path);
        span.updateName(route === undefined ? request.method : `${request.method} ${route}`);
        span.setAttribute('client.address', request.ip);
        // The rest of the request (hooks, body, handler, queries, jobs) runs inside this span:
        // @fastify/otel calls the next hook in it, and Fastify carries the context across the
        // body's stream events itself (an AsyncResource in its content-type parser; checked by
        // tests/tracing.test.ts with a body that arrives in parts). Binding the request stream
        // to the span as well, as this hook did, wrapped every listener added to it: about 4 us
        // a traced POST, a tenth of what tracing cost ingest (bench/README.md).
        // Fastify's own "incoming request" comes before any hook, so before this span: it is
        // written here instead, inside the span (http/request-log.ts skips Fastify's), when the
        // log level keeps it.
        if (!(request.log as typeof request.log & { isLevelEnabled(level: string): boolean }).isLevelEnabled('info')) return;
        const traced = api.trace.setSpan(api.context.active(), span);
        api.context.with(traced, () => request.log.info({ req: request }, 'incoming request'));
      },
    }),
    // A span per SQL query (the statement with its $n placeholders, never the values). Only
    // inside a traced request or job: pg-boss's polling and maintenance make no root spans.
    new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true }),
    // Provider calls (webhooks, Slack, SMS and push APIs) make their CLIENT span themselves, and
    // send `traceparent`: withHttpClientSpan in trace-context.ts says why it is not
    // @opentelemetry/instrumentation-undici.
    // trace_id and span_id on every log line written inside a span; logs stay on stdout.
    new PinoInstrumentation({ disableLogSending: true }),
  ];
}

/**
 * Under ESM, the instrumentations see a module imported by an ES module (logger.ts's
 * `import { pino } from 'pino'`) only through import-in-the-middle's loader hook, which must be
 * in place before those modules load (require-in-the-middle sees only `require` calls). Node's synchronous in-thread
 * hooks (module.registerHooks) are used where they work (Node 22.22.3+, 24.11.1+), else the
 * off-thread loader (module.register). Either way only the modules the instrumentations patch
 * are intercepted; every other module, the app's own .ts files included, loads untouched.
 */
function hookModuleLoading(instrumentations: ReturnType<typeof makeInstrumentations>): void {
  const include = [...new Set(instrumentations.flatMap((each) => each.getModuleDefinitions().map((definition) => definition.name)))];
  if (supportsSyncHooks()) registerSyncHooks({ include });
  else module.register('import-in-the-middle/hook.mjs', import.meta.url, { data: { include } });
}

function numberFromEnv(name: string): number | undefined {
  const value = Number(process.env[name]);
  return process.env[name] && Number.isFinite(value) && value >= 0 ? value : undefined;
}

function makeExporter() {
  const protocol = (process.env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || process.env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf').trim();
  // Both read OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT and _COMPRESSION.
  return protocol === 'http/json' ? new JsonTraceExporter() : new ProtobufTraceExporter();
}

/** Starts the SDK; register.ts calls it once the configuration is known to be valid. */
export function startTracing(): void {
  const instrumentations = makeInstrumentations();
  hookModuleLoading(instrumentations);
  const sdk = new NodeSDK({
    // service.name defaults to tocsin; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override it.
    resource: defaultResource().merge(resourceFromAttributes({ 'service.name': 'tocsin' })),
    instrumentations,
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: makeExporter(),
        maxQueueSize: numberFromEnv('OTEL_BSP_MAX_QUEUE_SIZE'),
        scheduledDelayMillis: numberFromEnv('OTEL_BSP_SCHEDULE_DELAY'),
        exportTimeoutMillis: numberFromEnv('OTEL_BSP_EXPORT_TIMEOUT'),
        // 256 spans an export unless set, not the SDK's 512: a span then waits half as long for
        // its export, and more of them die in the young generation instead of being promoted.
        // In a worker's drain, untraced over traced CPU per job read 0.84-0.88, against 0.72-0.78
        // with 512 (docs/tracing.md, "What it costs"); ingest no worse.
        maxExportBatchSize: numberFromEnv('OTEL_BSP_MAX_EXPORT_BATCH_SIZE') ?? Math.min(256, numberFromEnv('OTEL_BSP_MAX_QUEUE_SIZE') ?? 2048),
      }),
    ],
    metricReaders: [],
    logRecordProcessors: [],
    // The sampler comes from OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (parent-based
    // always-on by default); propagation from OTEL_PROPAGATORS (W3C trace context and baggage).
  });
  sdk.start();
  setActiveTracing({ api, shutdown: () => sdk.shutdown() });
}

import type * as OtelApi from '@opentelemetry/api';

/**
 * Whether tracing runs in this process, shared by the `--import` hook (register.ts), which
 * starts it, and the app, which flushes it at shutdown and opens queue spans. It imports nothing
 * at run time: with tracing off (SPEC section 12) not even @opentelemetry/api is loaded, so the
 * helpers in trace-context.ts reach the API through here and do nothing when it is absent.
 */
export interface ActiveTracing {
  api: typeof OtelApi;
  /** Ends the SDK: exports the spans still buffered, then stops the exporter. */
  shutdown(): Promise<void>;
}

let active: ActiveTracing | undefined;

/**
 * SPEC section 12: tracing is on when OTEL_EXPORTER_OTLP_ENDPOINT is set, unless the standard
 * OTEL_SDK_DISABLED=true switches it off.
 */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT) && env.OTEL_SDK_DISABLED?.trim().toLowerCase() !== 'true';
}

export function setActiveTracing(tracing: ActiveTracing): void {
  active = tracing;
}

/** The running tracing, or undefined when OTEL_EXPORTER_OTLP_ENDPOINT is unset. */
export function activeTracing(): ActiveTracing | undefined {
  return active;
}

/**
 * Flushes the spans of a stopping process; waits at most `timeoutMs`, so an unreachable
 * collector never holds up the exit that SPEC section 1 promises within SHUTDOWN_TIMEOUT_SECONDS.
 */
export async function shutdownTracing(timeoutMs = 5_000): Promise<void> {
  if (!active) return;
  const tracing = active;
  active = undefined;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    tracing.shutdown().catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}

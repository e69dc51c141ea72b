// The tracing hook: `node --import=./src/adapters/telemetry/register.ts src/main.ts`. It runs
// before main.ts and its imports are loaded, because instrumenting pg, pino and http under ESM
// needs a module loader hook in place before those modules load (tracing-sdk.ts).
//
// SPEC section 12: with OTEL_EXPORTER_OTLP_ENDPOINT unset or empty, whatever the other OTEL_*
// variables say, no tracing SDK or instrumentation is loaded: this module then imports only the
// few lines of tracing-state.ts and returns at once.
import { tracingRequested } from './tracing-state.ts';

/** A bad variable is main.ts's to report (and exit on): start nothing it would have to stop. */
async function configIsValid(): Promise<boolean> {
  const { ConfigError, loadConfig } = await import('../../config.ts');
  try {
    loadConfig();
    return true;
  } catch (error) {
    if (error instanceof ConfigError) return false;
    throw error;
  }
}

if (tracingRequested() && (await configIsValid())) {
  const { startTracing } = await import('./tracing-sdk.ts');
  startTracing();
}

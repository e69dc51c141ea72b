// Loaded with `node --import` ahead of the tracing hook in a test's child process: records every
// tracing SDK and instrumentation module the process resolves (by import or require) and prints
// the list at exit, so a test can show that with tracing off none is loaded (SPEC section 12).
import module from 'node:module';

// @opentelemetry/api is left out: without an SDK it is a no-op, and prom-client loads it anyway
// (for exemplars) whether tracing is on or not.
const telemetry = /\/node_modules\/(@opentelemetry\/(?!api\/)[^/]+|@fastify\/otel|import-in-the-middle|require-in-the-middle)\//;
const loaded = new Set<string>();

module.registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context);
    const match = telemetry.exec(result.url);
    if (match) loaded.add(match[1]!);
    return result;
  },
});

process.on('exit', () => {
  process.stderr.write(`telemetry modules loaded: ${JSON.stringify([...loaded].sort())}\n`);
});

#!/usr/bin/env -S node --max-semi-space-size=16 --heap-growing-percent=100
// The `tocsin` command (`npx tocsin api`). A shebang cannot name the tracing hook by a path
// relative to itself, so this file loads the hook first and main.ts after it, by dynamic
// import: nothing of the app is loaded before the hook has run, as with `node --import`.
await import('./adapters/telemetry/register.ts');
await import('./main.ts');

export {};

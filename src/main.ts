#!/usr/bin/env -S node --max-semi-space-size=16 --heap-growing-percent=100
// The process around the service (src/service.ts wires it): arguments, signals, exit codes,
// and the embedded PostgreSQL of a first `npm start`.
import closeWithGrace from 'close-with-grace';
import type { Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { makeLogger } from './logger.ts';
import { makeInviteTool, startService } from './service.ts';
import { countActiveKeys, createApiKey } from './adapters/postgres/api-key-store.ts';
import { makeDatabase, makePool, migrateToLatest } from './adapters/postgres/database.ts';
import { readerOf } from './adapters/postgres/transact.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './adapters/postgres/embedded-postgres.ts';
import { EmbeddedPostgresError } from './adapters/postgres/postgres-home.ts';
import { activeTracing, shutdownTracing, tracingRequested } from './adapters/telemetry/tracing-state.ts';

const roles = ['all', 'api', 'worker', 'migrate'] as const;
type Role = (typeof roles)[number];

const usage = `usage: tocsin [all|api|worker|migrate] | tocsin invite <email>
  all      API and worker in one process (the default; what npm start runs)
  api      the HTTP API only; run several behind a load balancer
  worker   the queue workers only; run as many as the load needs
  migrate  apply database migrations and exit
  invite   print a one-time link (24 h) where the user with this email sets a password;
           a user nobody has yet is created as an admin first
Configuration is read from environment variables; see the README.`;

/** The account the first start makes for a person; its email can be changed once signed in. */
const FIRST_ADMIN_EMAIL = 'admin@tocsin.local';

const say = (line: string) => process.stdout.write(`${line}\n`);

async function run(role: Role | 'invite', config: Config, logger: Logger): Promise<void> {
  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.DATABASE_URL;
  if (!databaseUrl) {
    // SPEC section 1: any user, any folder. As root, PostgreSQL runs as the user "postgres"; when
    // that user cannot reach this checkout, binaries and data live in /var/lib/tocsin/<id>/.
    say('No DATABASE_URL: starting the embedded PostgreSQL ...');
    embedded = await startEmbeddedPostgres({ checkout: process.cwd(), log: (message) => logger.warn(message), reuseRunning: role === 'invite' });
    say(embedded.notice);
    databaseUrl = embedded.url;
  }

  if (role === 'invite') {
    // SPEC section 10: `npx tocsin invite <email>`.
    const db = makeDatabase(makePool(databaseUrl, 2));
    try {
      await migrateToLatest(db);
      const email = process.argv[3]!;
      const link = await makeInviteTool({ db, config, logger })(email);
      if (link.created) say(`Created the admin account ${email}.`);
      say(`Setup link for ${email} (one use, until ${link.expires_at.toISOString()}):\n  ${link.url}`);
    } finally {
      await db.destroy();
      await embedded?.stop();
    }
    return;
  }

  if (role === 'migrate') {
    const db = makeDatabase(makePool(databaseUrl, 2));
    const applied = await migrateToLatest(db);
    say(applied.length > 0 ? `applied ${applied.join(', ')}` : 'database is up to date');
    await db.destroy();
    await embedded?.stop();
    return;
  }

  const service = await startService({ role, config, logger, databaseUrl });
  const { app, db } = service;
  const started: string[] = [];
  if (app) {
    await app.listen({ host: config.HOST, port: config.PORT });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.PORT;
    const base = `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${port}`;
    started.push(`Tocsin ${role} listening on ${base}`, `API docs: ${base}/docs (OpenAPI: ${base}/openapi.json)`);
    if (process.env.PUBLIC_URL) started.push(`Public URL: ${config.PUBLIC_URL}`);
  } else {
    started.push('Tocsin worker started');
  }

  // SPEC section 1: on SIGTERM or SIGINT, exit 0 within SHUTDOWN_TIMEOUT_SECONDS even under a
  // backlog or with an upload in flight. service.close() keeps to the deadline by itself; the race
  // below is the backstop if closing a pool hangs, and close-with-grace's own delay (which exits 1)
  // the last resort if the event loop is stuck.
  const timeoutMs = config.SHUTDOWN_TIMEOUT_SECONDS * 1000;
  closeWithGrace({ delay: timeoutMs + 5000, logger: { error: (message) => logger.error(message) } }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'shutting down after an error');
    else logger.info({ signal, timeout_seconds: config.SHUTDOWN_TIMEOUT_SECONDS }, 'shutting down');
    const closed = (async () => {
      // The embedded PostgreSQL stops last, so it gets the last moments of the deadline.
      await service.close(embedded ? Math.max(timeoutMs / 2, timeoutMs - 2000) : timeoutMs - 250);
      await embedded?.stop();
      // Last, so the spans of the requests and jobs that just finished are exported too.
      await shutdownTracing();
    })();
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      closed.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), Math.max(0, timeoutMs - 100)))),
    ]).finally(() => clearTimeout(timer));
    if (late) logger.warn({ timeout_seconds: config.SHUTDOWN_TIMEOUT_SECONDS }, 'shutdown deadline reached; exiting with what is left unclosed');
  });
  // Announced only once the signal handlers are in place: whoever waits for these lines (a
  // supervisor, a test) may signal at once. Printed before them, a worker that was sent SIGTERM
  // between the line and the handler died of the signal instead of shutting down (seen once in
  // CI, tests/process.test.ts, on a busy machine).
  for (const line of started) say(line);

  // First start: nobody can call the API without a key, so make one and show it once.
  if (app && !config.ADMIN_API_KEY && (await countActiveKeys(readerOf(db))) === 0) {
    const created = await createApiKey(readerOf(db), { name: 'first admin', scopes: ['admin'] });
    say(`First start: created an admin API key (shown only now; keep it safe):\n  ${created.key}`);
    // SPEC section 10: and a first admin account for a person, with a link to set its password.
    const link = await makeInviteTool({ db, config, logger })(FIRST_ADMIN_EMAIL, 'Admin');
    say(`First admin account: ${FIRST_ADMIN_EMAIL}. Set its password here (one use, 24 h), then sign in with it:\n  ${link.url}`);
  }
}

async function main(): Promise<void> {
  const arg = process.argv[2] ?? 'all';
  if (arg === '--help' || arg === '-h' || arg === 'help') {
    say(usage);
    return;
  }
  if (arg === 'invite' && !/^\S+@\S+$/.test(process.argv[3] ?? '')) {
    process.stderr.write(`tocsin invite needs an email address\n${usage}\n`);
    process.exitCode = 2;
    return;
  }
  if (arg !== 'invite' && !(roles as readonly string[]).includes(arg)) {
    process.stderr.write(`unknown role "${arg}"\n${usage}\n`);
    process.exitCode = 2;
    return;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`tocsin: ${error.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw error;
  }
  const logger = makeLogger(config.LOG_LEVEL);
  // SPEC section 12: tracing starts in the --import hook, before the app's modules load.
  if (tracingRequested() && !activeTracing()) {
    logger.warn('OTEL_EXPORTER_OTLP_ENDPOINT is set but tracing is off: start Tocsin with npm start, npx tocsin, or node --import=./src/adapters/telemetry/register.ts src/main.ts');
  }
  try {
    await run(arg as Role | 'invite', config, logger);
  } catch (error) {
    if (error instanceof EmbeddedPostgresError) {
      process.stderr.write(`tocsin: ${error.message}\n`);
    } else {
      logger.fatal({ err: error }, 'could not start');
      process.stderr.write(`tocsin: could not start: ${(error as Error).message}\n`);
    }
    process.exit(1);
  }
}

await main();

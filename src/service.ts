// The composition root (STYLE habit 3): the one place that wires the adapters, the use cases and
// the queue together, by hand, each built once. main.ts adds the process around it (arguments,
// signals, exit codes, embedded PostgreSQL); the tests start exactly this.
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { makeDelivery } from './app/deliver-notifications.ts';
import { makeEscalationRunner } from './app/escalation-runner.ts';
import { makeEscalationSetupUseCases } from './app/escalation-setup-use-cases.ts';
import { makeHeartbeatUseCases } from './app/heartbeat-use-cases.ts';
import { makeIncidentUseCases } from './app/incident-use-cases.ts';
import { makeIntegrationUseCases } from './app/integration-use-cases.ts';
import { makeEnqueue, makeSummaries } from './app/notification-enqueue.ts';
import { makeNotificationInputs } from './app/notification-inputs.ts';
import { makeNotificationUseCases } from './app/notification-use-cases.ts';
import { makePaging } from './app/paging.ts';
import { makeReferences } from './app/references.ts';
import { makeScheduleUseCases } from './app/schedule-use-cases.ts';
import { makeTemplateUseCases } from './app/template-use-cases.ts';
import { makeUserUseCases } from './app/user-use-cases.ts';
import { makeAccountUseCases } from './app/account-use-cases.ts';
import { makeActionLinks } from './app/action-links.ts';
import { makePageActions } from './app/page-action-use-cases.ts';
import * as replyCodeStore from './adapters/postgres/reply-code-store.ts';
import { actionLinkSecret } from './adapters/postgres/settings-store.ts';
import * as sessionStore from './adapters/postgres/session-store.ts';
import { buildApp } from './adapters/http/app.ts';
import { makeMetrics } from './adapters/metrics.ts';
import { makeChangeNotifier } from './adapters/postgres/change-notifier.ts';
import { makeIncidentIntake } from './adapters/postgres/incident-intake.ts';
import { makeChannelRateLimiter } from './adapters/postgres/channel-rate-limiter.ts';
import { makeDatabase, makePool, migrateToLatest, type Database } from './adapters/postgres/database.ts';
import { vacuumSettings, vacuumWarning } from './adapters/postgres/vacuum-check.ts';
import * as deliveryStore from './adapters/postgres/delivery-store.ts';
import * as policyStore from './adapters/postgres/escalation-policy-store.ts';
import * as escalationStore from './adapters/postgres/escalation-store.ts';
import * as heartbeatStore from './adapters/postgres/heartbeat-store.ts';
import * as incidentStore from './adapters/postgres/incident-store.ts';
import * as icalFeedStore from './adapters/postgres/ical-feed-store.ts';
import * as integrationStore from './adapters/postgres/integration-store.ts';
import * as notificationStore from './adapters/postgres/notification-store.ts';
import { makeFailureCounter, makeRateLimitCounter } from './adapters/postgres/rate-limit-store.ts';
import * as scheduleOverrideStore from './adapters/postgres/schedule-override-store.ts';
import * as scheduleStore from './adapters/postgres/schedule-store.ts';
import * as teamStore from './adapters/postgres/team-store.ts';
import * as templateStore from './adapters/postgres/template-store.ts';
import { changeFeed, makeTransact, readerOf } from './adapters/postgres/transact.ts';
import * as userStore from './adapters/postgres/user-store.ts';
import { makeCircuitBreakers } from './adapters/providers/circuit-breakers.ts';
import { channelProblem as channelProblemOf, makeProviders } from './adapters/providers/providers.ts';
import { makeDeliveryQueue } from './adapters/queue/delivery-queue.ts';
import { createNotificationQueues, startDeliveryWorkers } from './adapters/queue/delivery-worker.ts';
import { createEscalationQueue, makeEscalationQueue } from './adapters/queue/escalation-queue.ts';
import { startEscalationWorker } from './adapters/queue/escalation-worker.ts';
import { createHeartbeatQueues, makeHeartbeatQueue } from './adapters/queue/heartbeat-queue.ts';
import { startHeartbeatWorker } from './adapters/queue/heartbeat-worker.ts';
import { startMaintenanceWorker } from './adapters/queue/maintenance-worker.ts';
import { makeBoss, type Queue } from './adapters/queue/pg-boss-queue.ts';
import { startRetentionWorker } from './adapters/queue/retention-worker.ts';
import { startSweepWorker } from './adapters/queue/sweep-worker.ts';
import { systemClock } from './ports/clock.ts';
// Issue 12 (streams): the change reader and the stream hub of an API process.
import { activeKeyIds } from './adapters/postgres/api-key-store.ts';
import { makeChangeReader } from './adapters/postgres/change-reader.ts';
import { makeStreamHub } from './adapters/http/stream-hub.ts';

export type ServiceRole = 'all' | 'api' | 'worker';

export interface Service {
  db: Database;
  queue: Queue;
  /** The HTTP app, for roles that serve the API (not yet listening). */
  app?: FastifyInstance;
  /** Migrations applied by this start. */
  applied: string[];
  /**
   * SPEC section 1: stops taking requests and jobs, lets requests and deliveries in flight finish,
   * puts claimed but unstarted notifications back on the queue, and closes the pools, all within
   * `timeoutMs` (SHUTDOWN_TIMEOUT_SECONDS by default): connections still open near the deadline
   * (an upload in flight, a stream) are closed, and jobs still running are handed back to the
   * queue by pg-boss, to run again elsewhere.
   */
  close(timeoutMs?: number): Promise<void>;
}

/** Every feature's use cases, built once on one database and one queue. */
function makeUseCases(deps: { db: Database; queue: Queue; config: Config; logger: Logger }) {
  const { config } = deps;
  const clock = systemClock;
  const notifier = makeChangeNotifier(deps.db, deps.logger);
  const transact = makeTransact(deps.db, notifier);
  const changes = changeFeed;
  const channelProblem = channelProblemOf(config);
  const deliveryQueue = makeDeliveryQueue(deps.queue.boss);
  const escalationQueue = makeEscalationQueue(deps.queue.boss);
  const heartbeatQueue = makeHeartbeatQueue(deps.queue.boss);

  const references = makeReferences({ teams: teamStore, users: userStore, policies: policyStore, incidents: incidentStore, schedules: scheduleStore });
  const summaries = makeSummaries({ delivery: deliveryStore, changes });
  const enqueue = makeEnqueue({ notifications: notificationStore, queue: deliveryQueue, summaries });
  const schedules = makeScheduleUseCases({
    transact,
    clock,
    changes,
    schedules: scheduleStore,
    overrides: scheduleOverrideStore,
    feeds: icalFeedStore,
    users: userStore,
    references,
    policies: policyStore,
  });
  const actionLinks = makeActionLinks({ secret: () => actionLinkSecret(deps.db), publicUrl: config.PUBLIC_URL });
  const paging = makePaging({
    actionLink: actionLinks.url,
    replyCodeFor: replyCodeStore.replyCodeFor,
    clock,
    channelProblem,
    users: userStore,
    teams: teamStore,
    policies: policyStore,
    templates: templateStore,
    escalations: escalationStore,
    incidents: incidentStore,
    notifications: notificationStore,
    enqueue,
    summaries,
    deliveryQueue,
    escalationQueue,
    onCall: schedules,
  });
  const incidents = makeIncidentUseCases({
    transact, clock, incidents: incidentStore, intake: makeIncidentIntake(deps.db, notifier), changes, references, paging,
  });
  return {
    transact,
    notifier,
    deliveryQueue,
    escalationQueue,
    heartbeatQueue,
    incidents,
    notifications: makeNotificationUseCases({
      transact,
      clock,
      channelProblem,
      inputs: makeNotificationInputs({ users: userStore, templates: templateStore, references }),
      enqueue,
      summaries,
      queue: deliveryQueue,
      notifications: notificationStore,
      incidents: incidentStore,
    }),
    integrations: makeIntegrationUseCases({ transact, integrations: integrationStore, incidents: incidentStore, incidentUseCases: incidents, references }),
    heartbeats: makeHeartbeatUseCases({ transact, heartbeats: heartbeatStore, queue: heartbeatQueue, incidents: incidentStore, incidentUseCases: incidents, references }),
    templates: makeTemplateUseCases({ transact, templates: templateStore }),
    users: makeUserUseCases({ transact, users: userStore }),
    accounts: makeAccountUseCases({
      transact,
      users: userStore,
      sessions: sessionStore,
      failures: makeFailureCounter(deps.db),
      sessionTtlHours: config.SESSION_TTL_HOURS,
      publicUrl: config.PUBLIC_URL,
    }),
    setup: makeEscalationSetupUseCases({ policies: policyStore, teams: teamStore, references }),
    schedules,
    pageActions: makePageActions({
      reader: readerOf(deps.db),
      links: actionLinks,
      incidents: incidentStore,
      users: userStore,
      replyCodes: replyCodeStore,
      incidentUseCases: incidents,
    }),
    escalationRunner: makeEscalationRunner({ transact, clock, incidents: incidentStore, escalations: escalationStore, policies: policyStore, teams: teamStore, paging, changes }),
    summaries,
  };
}

/**
 * SPEC section 10, for the command line (`npx tocsin invite <email>`) and the first start: a
 * one-time setup link for the user with this email, made an admin account first when nobody has
 * that email. Needs only the database, not the queue.
 */
export function makeInviteTool(deps: { db: Database; config: Config; logger: Logger }) {
  const transact = makeTransact(deps.db, makeChangeNotifier(deps.db, deps.logger));
  const users = makeUserUseCases({ transact, users: userStore });
  const accounts = makeAccountUseCases({
    transact,
    users: userStore,
    sessions: sessionStore,
    failures: makeFailureCounter(deps.db),
    sessionTtlHours: deps.config.SESSION_TTL_HOURS,
    publicUrl: deps.config.PUBLIC_URL,
  });
  return async function invite(email: string, name?: string): Promise<{ url: string; expires_at: Date; created: boolean }> {
    const existing = await accounts.inviteByEmail(email);
    if (existing) return { ...existing, created: false };
    const user = await users.create({ name: name ?? email.split('@')[0]!, email, role: 'admin', contact_methods: [] });
    return { ...(await accounts.invite(user.id)), created: true };
  };
}

export async function startService(options: { role: ServiceRole; config: Config; logger: Logger; databaseUrl: string }): Promise<Service> {
  const { role, config, logger, databaseUrl } = options;
  const runsWorkers = role === 'all' || role === 'worker';
  const runsApi = role === 'all' || role === 'api';

  const db = makeDatabase(makePool(databaseUrl, 20, { preparedStatements: config.DATABASE_PREPARED_STATEMENTS }));
  const applied = await migrateToLatest(db);
  if (applied.length > 0) logger.info({ applied }, 'migrations applied');

  const queue = makeBoss({ connectionString: databaseUrl, logger, supervise: runsWorkers });
  await queue.start();
  await createNotificationQueues(queue.boss);
  await createEscalationQueue(queue.boss);
  await createHeartbeatQueues(queue.boss);
  const metrics = makeMetrics({ db });
  const stopping = new AbortController();
  const features = makeUseCases({ db, queue, config, logger });
  const { transact } = features;

  let providers: ReturnType<typeof makeProviders> | undefined;
  let sweeper: { stop(): void } | undefined;
  if (runsWorkers) {
    // Said once, by the processes that do the writing: nothing else tells an operator why a
    // server with autovacuum off gets slower by the day.
    const vacuum = await vacuumSettings(db).catch(() => undefined);
    const warning = vacuum && vacuumWarning(vacuum);
    if (warning) logger.warn({ autovacuum: vacuum.server, autovacuum_off_tables: vacuum.tablesOff }, warning);
    await startMaintenanceWorker({ boss: queue.boss, db, logger, eventRetentionHours: config.EVENT_RETENTION_HOURS });
    // SPEC section 4: nothing accepted is stranded (the sweep), and ended notifications expire.
    sweeper = await startSweepWorker({
      boss: queue.boss,
      transact,
      deliveryQueue: features.deliveryQueue,
      escalationQueue: features.escalationQueue,
      logger,
      intervalSeconds: config.SWEEP_INTERVAL_SECONDS,
    });
    await startRetentionWorker({ boss: queue.boss, db, logger, retentionDays: config.NOTIFICATION_RETENTION_DAYS });
    // SPEC section 5: later escalation levels, paged by jobs at their due time.
    await startEscalationWorker(queue.boss, features.escalationRunner, logger);
    await startHeartbeatWorker({ boss: queue.boss, db, heartbeats: features.heartbeats, queue: features.heartbeatQueue, logger });
    providers = makeProviders(config, db);
    const delivery = makeDelivery({
      providers,
      breakers: makeCircuitBreakers({ halfOpenAfterMs: config.CIRCUIT_BREAKER_HALF_OPEN_SECONDS * 1000 }),
      rateLimiter: makeChannelRateLimiter(db, config.CHANNEL_RATE_LIMIT_PER_SECOND),
      transact,
      clock: systemClock,
      backoffMs: config.RETRY_BACKOFF_MS,
      retryAfterMaxMs: config.RETRY_AFTER_MAX_SECONDS * 1000,
      delivery: deliveryStore,
      incidents: incidentStore,
      summaries: features.summaries,
      queue: features.deliveryQueue,
      observe: metrics.observeDelivery,
      logger,
      stopping: stopping.signal,
    });
    // A batch larger than a second's budget would only hold claimed notifications waiting for
    // later windows (and no longer cancellable), so the budget caps it.
    await startDeliveryWorkers(queue.boss, delivery, {
      batchSize: Math.min(config.WORKER_BATCH_SIZE, config.CHANNEL_RATE_LIMIT_PER_SECOND),
      concurrency: config.WORKER_CONCURRENCY,
    });
  }

  // Issue 12 (SPEC section 7): one LISTEN connection and one reader per API process, fanned out to
  // its stream clients by the hub. Only processes that serve the API read the feed.
  const changeReader = runsApi ? makeChangeReader({ db, listenUrl: config.DATABASE_LISTEN_URL ?? databaseUrl, logger }) : undefined;
  await changeReader?.start();
  const streamHub = changeReader
    ? makeStreamHub({ reader: changeReader, db, logger, heartbeatMs: config.STREAM_HEARTBEAT_SECONDS * 1000, activeKeyIds: (ids) => activeKeyIds(readerOf(db), ids), registry: metrics.registry })
    : undefined;

  const app = runsApi
    ? await buildApp({
        streamHub: streamHub!, // issue 12
        incidents: features.incidents,
        notifications: features.notifications,
        integrations: features.integrations,
        heartbeats: features.heartbeats,
        templates: features.templates,
        users: features.users,
        accounts: features.accounts,
        pageActions: features.pageActions,
        setup: features.setup,
        schedules: features.schedules,
        transact,
        reader: readerOf(db),
        rateLimits: makeRateLimitCounter(db),
        metrics,
        logger,
        readiness: {
          databaseAnswers: () => sql`select 1`.execute(db).then(() => true, () => false),
          queueStarted: queue.isStarted,
        },
        config,
      })
    : undefined;

  return {
    db,
    queue,
    ...(app ? { app } : {}),
    applied,
    async close(timeoutMs = config.SHUTDOWN_TIMEOUT_SECONDS * 1000) {
      const deadline = Date.now() + timeoutMs;
      // The last second (half, for short timeouts) is kept for closing the pools and exiting.
      const cutoff = deadline - Math.min(1000, timeoutMs / 2);
      stopping.abort();
      sweeper?.stop();
      const forceClose = setTimeout(() => {
        logger.warn({ timeout_ms: timeoutMs }, 'shutdown deadline: closing the connections that remain');
        app?.server.closeAllConnections();
      }, Math.max(0, cutoff - Date.now()));
      try {
        // Requests and deliveries in flight finish meanwhile: both stop taking new work at once.
        await Promise.all([app?.close(), queue.stop(Math.max(0, cutoff - Date.now()), { close: false })]);
      } finally {
        clearTimeout(forceClose);
      }
      await queue.stop();
      await changeReader?.stop(); // issue 12: before the pool it reads from closes
      await providers?.closeAll();
      await features.notifier.flush();
      await db.destroy();
    },
  };
}

// The composition root (STYLE habit 3): the one place that wires the adapters, the use cases and
// the queue together, by hand. main.ts adds the process around it (arguments, signals, exit
// codes, embedded PostgreSQL); the tests start exactly this.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { buildApp } from './adapters/http/app.ts';
import { makeMetrics } from './adapters/metrics.ts';
import { makeChannelRateLimiter } from './adapters/postgres/channel-rate-limiter.ts';
import { makeDatabase, makePool, migrateToLatest, type Database } from './adapters/postgres/database.ts';
import { claimForSending } from './adapters/postgres/notification-store.ts';
import { makeTransact } from './adapters/postgres/unit-of-work.ts';
import { makeCircuitBreakers } from './adapters/providers/circuit-breakers.ts';
import { channelProblem, makeProviders } from './adapters/providers/providers.ts';
import { createNotificationQueues, startDeliveryWorkers } from './adapters/queue/delivery-worker.ts';
import { createHeartbeatQueues } from './adapters/queue/heartbeat-check-writes.ts';
import { startHeartbeatWorker } from './adapters/queue/heartbeat-worker.ts';
import { createEscalationQueue } from './adapters/queue/escalation-job-writes.ts';
import { startEscalationWorker } from './adapters/queue/escalation-worker.ts';
import { startMaintenanceWorker } from './adapters/queue/maintenance-worker.ts';
import { startRetentionWorker } from './adapters/queue/retention-worker.ts';
import { startSweepWorker } from './adapters/queue/sweep-worker.ts';
import { makeBoss, type Queue } from './adapters/queue/pg-boss-queue.ts';
import { systemClock } from './ports/clock.ts';
// ---- Schedules (SPEC 11, issue 15), built in the new shape (issue 11): lead, re-apply by hand.
import { makeChangeNotifier } from './adapters/postgres/change-notifier.ts';
import * as IcalFeedStore from './adapters/postgres/ical-feed-store.ts';
import * as ScheduleOverrideStore from './adapters/postgres/schedule-override-store.ts';
import * as ScheduleStore from './adapters/postgres/schedule-store.ts';
import * as TeamStore from './adapters/postgres/team-store.ts';
import { changeFeed, makeTransact as makeTxTransact, readerOf } from './adapters/postgres/transact.ts';
import * as UserStore from './adapters/postgres/user-store.ts';
import { makeScheduleUseCases } from './app/schedule-use-cases.ts';
// ---- end of schedules

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

export async function startService(options: { role: ServiceRole; config: Config; logger: Logger; databaseUrl: string }): Promise<Service> {
  const { role, config, logger, databaseUrl } = options;
  const runsWorkers = role === 'all' || role === 'worker';
  const runsApi = role === 'all' || role === 'api';

  const db = makeDatabase(makePool(databaseUrl, 20));
  const applied = await migrateToLatest(db);
  if (applied.length > 0) logger.info({ applied }, 'migrations applied');

  const queue = makeBoss({ connectionString: databaseUrl, logger, supervise: runsWorkers });
  await queue.start();
  await createNotificationQueues(queue.boss);
  await createEscalationQueue(queue.boss);
  await createHeartbeatQueues(queue.boss);
  const metrics = makeMetrics({ db });
  const stopping = new AbortController();

  let providers: ReturnType<typeof makeProviders> | undefined;
  let sweeper: { stop(): void } | undefined;
  if (runsWorkers) {
    await startMaintenanceWorker({ boss: queue.boss, db, logger });
    // SPEC section 4: nothing accepted is stranded (the sweep), and ended notifications expire.
    sweeper = await startSweepWorker({ boss: queue.boss, db, logger, intervalSeconds: config.SWEEP_INTERVAL_SECONDS });
    await startRetentionWorker({ boss: queue.boss, db, logger, retentionDays: config.NOTIFICATION_RETENTION_DAYS });
    // SPEC section 5: later escalation levels, paged by jobs at their due time.
    await startEscalationWorker(queue.boss, { transact: makeTransact(db, queue.boss), clock: systemClock, channelProblem: channelProblem(config) }, logger);
    await startHeartbeatWorker({
      boss: queue.boss,
      db,
      logger,
      ctx: { transact: makeTransact(db, queue.boss), clock: systemClock, channelProblem: channelProblem(config) },
    });
    providers = makeProviders(config, db);
    await startDeliveryWorkers(
      queue.boss,
      {
        providers,
        breakers: makeCircuitBreakers({ halfOpenAfterMs: config.CIRCUIT_BREAKER_HALF_OPEN_SECONDS * 1000 }),
        rateLimiter: makeChannelRateLimiter(db, config.CHANNEL_RATE_LIMIT_PER_SECOND),
        transact: makeTransact(db, queue.boss),
        clock: systemClock,
        backoffMs: config.RETRY_BACKOFF_MS,
        retryAfterMaxMs: config.RETRY_AFTER_MAX_SECONDS * 1000,
        claim: (_channel, jobs) => claimForSending(db, jobs),
        observe: metrics.observeDelivery,
        logger,
        stopping: stopping.signal,
      },
      // A batch larger than a second's budget would only hold claimed notifications waiting
      // for later windows (and no longer cancellable), so the budget caps it.
      { batchSize: Math.min(config.WORKER_BATCH_SIZE, config.CHANNEL_RATE_LIMIT_PER_SECOND), concurrency: config.WORKER_CONCURRENCY },
    );
  }

  // ---- Schedules (SPEC 11, issue 15): the new shape's unit of work and the schedule use cases.
  const changeNotifier = makeChangeNotifier(db, logger);
  const txTransact = makeTxTransact(db, changeNotifier);
  const scheduleUseCases = makeScheduleUseCases({
    transact: txTransact,
    clock: systemClock,
    changes: changeFeed,
    schedules: ScheduleStore,
    overrides: ScheduleOverrideStore,
    feeds: IcalFeedStore,
    users: UserStore,
    teams: TeamStore,
  });
  // ---- end of schedules

  const app = runsApi
    ? await buildApp({
        db,
        boss: queue.boss,
        metrics,
        channelProblem: channelProblem(config),
        logger,
        clock: systemClock,
        readiness: { queueStarted: queue.isStarted },
        config,
        schedules: { useCases: scheduleUseCases, transact: txTransact, reader: readerOf(db), publicUrl: config.PUBLIC_URL }, // schedules (issue 15)
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
        await Promise.all([
          app?.close(),
          queue.stop(Math.max(0, cutoff - Date.now()), { close: false }),
        ]);
      } finally {
        clearTimeout(forceClose);
      }
      await queue.stop();
      await providers?.closeAll();
      await changeNotifier.flush(); // schedules (issue 15): the last change notification goes out
      await db.destroy();
    },
  };
}

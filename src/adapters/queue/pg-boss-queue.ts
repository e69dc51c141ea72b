import { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';

/**
 * pg-boss in its own schema beside Tocsin's tables (SPEC section 1). LISTEN/NOTIFY is on so
 * workers wake the moment a job commits; polling stays as a slow backstop.
 */
export function makeBoss(options: { connectionString: string; logger: Logger; max?: number; supervise: boolean }) {
  const boss = new PgBoss({
    connectionString: options.connectionString,
    schema: 'pgboss',
    application_name: 'tocsin-queue',
    max: options.max ?? 10,
    useListenNotify: true,
    // Only worker processes run maintenance and cron; API processes only send.
    supervise: options.supervise,
    schedule: options.supervise,
    // The supervisor is what hands a dead worker's jobs back (their heartbeat, heartbeatSeconds
    // 10 on the delivery queues, goes stale). pg-boss's defaults run that sweep at most once a
    // minute (a supervise pass every 60 s, and a queue is monitored only when its last monitor
    // pass is 60 s old), so a crashed worker's notifications waited up to a minute longer. Both at
    // 10 s bound it to about 20 s; found by tests/delivery-reliability.test.ts (issue 3).
    superviseIntervalSeconds: 10,
    monitorIntervalSeconds: 10,
  });
  // pg-boss reports lost connections and failed maintenance as 'error' events; it recovers by
  // itself, so they are logged rather than allowed to crash the process.
  boss.on('error', (error) => options.logger.error({ err: error }, 'queue error'));
  boss.on('warning', (warning) => options.logger.warn({ warning }, 'queue warning'));
  let started = false;
  return {
    boss,
    async start() {
      await boss.start();
      started = true;
    },
    /**
     * Stops fetching and waits up to `timeoutMs` for jobs in flight; pg-boss then fails what
     * remains, to be retried. `close: false` keeps the pool open for writes still to come (requests
     * in flight enqueue jobs); a later stop() closes it.
     */
    async stop(timeoutMs = 20_000, options: { close?: boolean } = {}) {
      started = false;
      await boss.stop({ graceful: true, timeout: timeoutMs, close: options.close ?? true });
    },
    isStarted: () => started,
  };
}

export type Queue = ReturnType<typeof makeBoss>;

import pg from 'pg';
import type { Logger } from 'pino';
import { CHANGES_CHANNEL, newestChangeId, readChanges, settledHorizon, type Change } from './change-store.ts';
import type { Database } from './database.ts';

export type ChangeSubscriber = (changes: readonly Change[]) => void;

export interface ChangeReaderOptions {
  db: Database;
  /** A direct connection for LISTEN: DATABASE_LISTEN_URL when DATABASE_URL is a pooler (SPEC 7). */
  listenUrl: string;
  logger: Pick<Logger, 'info' | 'warn' | 'debug'>;
  /** The backstop poll, for a NOTIFY that never came (default 1000 ms). */
  pollIntervalMs?: number;
  /** Rows read per query while catching up (default 1000). */
  pageSize?: number;
  /**
   * The shortest time between the starts of two reads while changes keep coming (default 20 ms):
   * a busy feed is read in bursts of a few dozen commits, not once per commit.
   */
  minReadIntervalMs?: number;
}

/**
 * The change feed's reader in an API process (SPEC section 7): one LISTEN connection, and one
 * read of the table per burst of notifications, whoever made the changes. Subscribers get every
 * change once, in id order, which is commit order. A lost LISTEN connection is reconnected with
 * backoff and the reader then catches up from the last id it handed out, so nothing is skipped.
 */
export function makeChangeReader(options: ChangeReaderOptions) {
  const { db, logger } = options;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const pageSize = options.pageSize ?? 1000;
  const minReadIntervalMs = options.minReadIntervalMs ?? 20;
  const subscribers = new Set<ChangeSubscriber>();
  let last = 0;
  let stopped = true;
  let listener: pg.Client | undefined;
  let reconnectDelay = 100;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  let reading: Promise<void> | undefined;
  let again = false;

  function publish(changes: Change[]) {
    for (const subscriber of subscribers) {
      try {
        subscriber(changes);
      } catch (error) {
        logger.warn({ err: error }, 'a change subscriber failed');
      }
    }
  }

  /** Reads everything up to the settled horizon and hands it out, one pass. */
  async function catchUp(): Promise<void> {
    const horizon = await settledHorizon(db);
    while (last < horizon) {
      const changes = await readChanges(db, last, horizon, pageSize);
      if (changes.length === 0) break;
      last = changes.at(-1)!.id;
      publish(changes);
    }
    // Ids of rolled-back appends never appear; the horizon is settled, so skip past them.
    if (horizon > last) last = horizon;
  }

  /** Asks for a read; reads that overlap collapse into one more pass after the current one. */
  function wake(): Promise<void> {
    if (stopped) return Promise.resolve();
    if (reading) {
      again = true;
      return reading;
    }
    reading = (async () => {
      try {
        for (;;) {
          again = false;
          const started = performance.now();
          await catchUp();
          if (!again || stopped) break;
          // More committed meanwhile: gather it for a moment rather than read after every commit.
          // Under a steady stream of commits (a worker draining a backlog) each read waited on the
          // horizon for the commits in flight and found one or two changes: as many reads as
          // commits (delivery read about 9% slower with one stream client connected than with none).
          const wait = minReadIntervalMs - (performance.now() - started);
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        }
      } catch (error) {
        // The database is away; the poll tries again.
        logger.debug({ err: error }, 'reading the change feed failed; retrying on the next poll');
      } finally {
        reading = undefined;
      }
    })();
    return reading;
  }

  async function poll() {
    try {
      // Cheap check first: the horizon may wait for appenders in flight, the newest id does not.
      if ((await newestChangeId(db)) > last) await wake();
    } catch (error) {
      logger.debug({ err: error }, 'polling the change feed failed');
    }
    if (!stopped) pollTimer = setTimeout(poll, pollIntervalMs).unref();
  }

  function scheduleReconnect() {
    if (stopped || reconnectTimer) return;
    const delay = reconnectDelay;
    reconnectDelay = Math.min(reconnectDelay * 2, 5000);
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      void connect();
    }, delay).unref();
  }

  async function connect(): Promise<void> {
    const client = new pg.Client({ connectionString: options.listenUrl, application_name: 'tocsin-listen' });
    let failed = false;
    const lost = (error?: Error) => {
      if (failed) return;
      failed = true;
      if (listener === client) listener = undefined;
      client.end().catch(() => {});
      if (!stopped) {
        logger.warn({ err: error }, 'change feed listener lost its connection; reconnecting');
        scheduleReconnect();
      }
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (message) => {
      if (message.channel === CHANGES_CHANNEL) void wake();
    });
    try {
      await client.connect();
      await client.query(`listen ${CHANGES_CHANNEL}`);
    } catch (error) {
      lost(error as Error);
      return;
    }
    if (stopped) {
      await client.end().catch(() => {});
      return;
    }
    listener = client;
    reconnectDelay = 100;
    // Whatever committed while there was no listener.
    await wake();
  }

  return {
    /** Starts live from the current horizon (clients replay older changes from the table). */
    async start(): Promise<void> {
      stopped = false;
      last = await settledHorizon(db);
      await connect();
      pollTimer = setTimeout(poll, pollIntervalMs).unref();
    },
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(pollTimer);
      clearTimeout(reconnectTimer);
      await reading;
      await listener?.end().catch(() => {});
      listener = undefined;
    },
    subscribe(subscriber: ChangeSubscriber): () => void {
      subscribers.add(subscriber);
      return () => subscribers.delete(subscriber);
    },
    /** The newest id handed to subscribers: replays from the table must stop here, then go live. */
    position: () => last,
    /** Reads now (for a caller that knows something committed, and for tests). */
    wake,
    /** Whether the LISTEN connection is up. */
    listening: () => listener !== undefined,
  };
}

export type ChangeReader = ReturnType<typeof makeChangeReader>;

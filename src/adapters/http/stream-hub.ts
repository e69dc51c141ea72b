import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Principal } from '../../domain/api-key.ts';
import { filterKey, narrowEvent, type StreamFilter } from '../../domain/stream-filter.ts';
import type { ChangeReader } from '../postgres/change-reader.ts';
import { newestChangeId, readChangesForReplay, type Change } from '../postgres/change-store.ts';
import type { Database } from '../postgres/database.ts';
import { OutgoingEvent, resetEvent, sseChunk } from './stream-frames.ts';
import type { EndReason, StreamSink } from './stream-sinks.ts';

/** How a stream client proved who it is; a session (SPEC section 10) is not an API key to recheck. */
export type StreamAuth = { principal: Principal; via: 'bearer' | 'ticket' | 'cookie' };

export interface StreamClient {
  readonly sink: StreamSink;
  readonly auth: StreamAuth;
  filter: StreamFilter;
  key: string;
  /** Live events are held here while the table is replayed, then sent. */
  state: 'replaying' | 'live' | 'gone';
  buffer: OutgoingEvent[];
  bufferedBytes: number;
  /** The buffer passed the limit and was dropped: the replay goes on further in the table. */
  overflowed: boolean;
  /** Events up to this id were sent (or the client said it has them): never send them again. */
  floor: number;
  /** Bumped by each (re)subscription, so that a replay overtaken by a newer one stops. */
  generation: number;
}

export interface StreamHubOptions {
  reader: Pick<ChangeReader, 'subscribe' | 'position'>;
  db: Database;
  logger: Pick<Logger, 'warn' | 'debug'>;
  /** SSE comment every interval, WebSocket ping every second one (SPEC section 7: 15 s and 30 s). */
  heartbeatMs: number;
  /** Which of these API key ids are still active; streams of the others end. */
  activeKeyIds: (ids: string[]) => Promise<Set<string>>;
  registry?: Registry;
  /** A client whose unsent bytes pass this is disconnected (SPEC section 7: 1 MiB). */
  maxBacklogBytes?: number;
  replayPageSize?: number;
}

const MiB = 1024 * 1024;
const REPLAY_SLICE_BYTES = 64 * 1024;

/**
 * SPEC section 7: one subscription to the process's change reader fans every change out to the
 * stream clients of this process, each through its filter. A client that reconnects with
 * `Last-Event-ID` (or `since`) is subscribed first, its live events held back while the table is
 * replayed up to the reader's position, then sent after it: no gap, and no id twice. The fan-out
 * never awaits a client; one whose backlog passes the limit is cut and resumes with its last id.
 */
export function makeStreamHub(options: StreamHubOptions) {
  const { reader, db, logger } = options;
  const maxBacklog = options.maxBacklogBytes ?? MiB;
  const pageSize = options.replayPageSize ?? 500;
  const clients = new Set<StreamClient>();

  const disconnects = new Counter({
    name: 'tocsin_stream_disconnects_total',
    help: 'Stream clients this process disconnected, by reason (backlog: more than 1 MiB unsent; revoked; shutdown)',
    labelNames: ['reason'] as const,
    registers: options.registry ? [options.registry] : [],
  });
  new Gauge({
    name: 'tocsin_stream_clients',
    help: 'Stream clients connected to this process, by transport',
    labelNames: ['transport'] as const,
    registers: options.registry ? [options.registry] : [],
    collect() {
      const count = { sse: 0, ws: 0 };
      for (const client of clients) count[client.sink.transport]++;
      for (const [transport, n] of Object.entries(count)) this.set({ transport }, n);
    },
  });

  function cut(client: StreamClient, reason: 'backlog' | EndReason | 'error') {
    if (client.state === 'gone') return;
    client.state = 'gone';
    clients.delete(client);
    disconnects.inc({ reason });
    if (reason === 'backlog' || reason === 'error') client.sink.destroy();
    else client.sink.end(reason);
  }

  /**
   * Writes to a live client, never waiting for it. A client still holding more than the limit
   * unsent from earlier writes is cut instead: the check comes before the write, so a burst larger
   * than the limit (one batch of big events) does not cut a client that reads as fast as it can.
   */
  function deliver(client: StreamClient, events: readonly OutgoingEvent[], shared?: Buffer) {
    if (events.length === 0) return;
    if (client.sink.backlog() > maxBacklog) return cut(client, 'backlog');
    client.sink.send(events, shared);
    client.floor = events.at(-1)!.id;
  }

  const select = (filter: StreamFilter, events: readonly OutgoingEvent[]): OutgoingEvent[] => {
    const selected: OutgoingEvent[] = [];
    for (const event of events) {
      const data = narrowEvent(filter, event.type, event.data);
      if (data !== undefined) selected.push(data === event.data ? event : event.with(data));
    }
    return selected;
  };

  function publish(changes: readonly Change[]) {
    if (clients.size === 0) return;
    const events = changes.map(OutgoingEvent.of);
    // Clients with the same filter share the selection and its SSE chunk.
    const selections = new Map<string, { events: OutgoingEvent[]; chunk?: Buffer }>();
    for (const client of clients) {
      let selection = selections.get(client.key);
      if (!selection) selections.set(client.key, (selection = { events: select(client.filter, events) }));
      if (selection.events.length === 0) continue;
      if (client.state === 'replaying') {
        client.buffer.push(...selection.events);
        for (const event of selection.events) client.bufferedBytes += event.size();
        // Too much to hold: drop it, the replay reads it from the table instead (see replay).
        if (client.bufferedBytes > maxBacklog) holdNothing(client, true);
      } else if (selection.events[0]!.id <= client.floor) {
        // A client that came from a process whose reader was ahead of this one's.
        deliver(client, selection.events.filter((event) => event.id > client.floor));
      } else {
        if (client.sink.transport === 'sse') selection.chunk ??= sseChunk(selection.events);
        deliver(client, selection.events, client.sink.transport === 'sse' ? selection.chunk : undefined);
      }
    }
  }

  const unsubscribe = reader.subscribe(publish);

  /**
   * Sends replayed events a slice at a time, waiting while the client has much unsent: a replay
   * may wait for its own client (the fan-out never does), and is never cut for its own volume.
   */
  async function sendReplayed(client: StreamClient, events: readonly OutgoingEvent[], stale: () => boolean) {
    for (let start = 0; start < events.length && !stale(); ) {
      let end = start;
      let bytes = 0;
      while (end < events.length && bytes < REPLAY_SLICE_BYTES) bytes += events[end++]!.size();
      client.sink.send(events.slice(start, end));
      client.floor = events[end - 1]!.id;
      start = end;
      while (client.sink.backlog() > REPLAY_SLICE_BYTES && !stale()) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  }

  function holdNothing(client: StreamClient, overflowed: boolean) {
    client.buffer = [];
    client.bufferedBytes = 0;
    client.overflowed = overflowed;
  }

  /**
   * Replays (since, position] from the table, then sends what arrived meanwhile and goes live.
   * `event: reset` first when `since` is older than what is kept, or newer than anything committed.
   * When more arrives during the replay than a client may have held for it, the held events are
   * dropped and the replay goes on in the table up to the reader's new position, until it catches up.
   */
  async function replay(client: StreamClient, since: number | undefined) {
    const generation = ++client.generation;
    let upTo = reader.position();
    client.state = 'replaying';
    holdNothing(client, false);
    const stale = () => client.generation !== generation || client.state === 'gone';
    if (since !== undefined) {
      let after = since;
      let reset: string | undefined;
      if (since > upTo && since > (await newestChangeId(db))) reset = 'no event has this id yet';
      for (;;) {
        while (!reset && after < upTo && !stale()) {
          const page = await readChangesForReplay(db, after, upTo, pageSize);
          if (stale()) return;
          if (page.prunedThrough > after) reset = 'events after this id are no longer kept (EVENT_RETENTION_HOURS)';
          else if (page.changes.length === 0) break;
          else {
            await sendReplayed(client, select(client.filter, page.changes.map(OutgoingEvent.of)), stale);
            if (stale()) return;
            after = page.changes.at(-1)!.id;
          }
        }
        if (stale()) return;
        if (reset || !client.overflowed) break;
        // Held events were dropped: read on to where the reader is now (synchronously with the drop).
        holdNothing(client, false);
        after = Math.max(after, upTo);
        upTo = reader.position();
      }
      if (reset) {
        // The client reloads after this, so it goes on from where the reader is now.
        holdNothing(client, false);
        upTo = reader.position();
        client.sink.send([resetEvent(upTo, since, reset)]);
        after = upTo;
      }
      client.floor = Math.max(client.floor, after);
    }
    const held = client.buffer.filter((event) => event.id > client.floor);
    holdNothing(client, false);
    client.state = 'live';
    deliver(client, held);
  }

  function start(client: StreamClient, since: number | undefined) {
    replay(client, since).catch((error: unknown) => {
      if (client.state === 'gone') return;
      logger.warn({ err: error }, 'a stream replay failed; the client resumes with its last id');
      cut(client, 'error');
    });
  }

  let tick = 0;
  let checking = false;
  const heartbeat = setInterval(() => {
    tick++;
    for (const client of clients) {
      if (client.sink.transport === 'sse' || tick % 2 === 0) client.sink.heartbeat();
    }
    void revalidate();
  }, options.heartbeatMs).unref();

  /** A stream lives no longer than its API key: revoked keys end their streams at the next beat. */
  async function revalidate() {
    if (checking) return;
    // People (a cookie, or a ticket a person asked for) hold no API key that could be revoked.
    const keyed = [...clients].filter((client) => client.auth.via !== 'cookie' && client.auth.principal.key_id !== 'bootstrap' && !client.auth.principal.user_id);
    if (keyed.length === 0) return;
    checking = true;
    try {
      const active = await options.activeKeyIds([...new Set(keyed.map((client) => client.auth.principal.key_id))]);
      for (const client of keyed) if (!active.has(client.auth.principal.key_id)) cut(client, 'revoked');
    } catch (error) {
      logger.debug({ err: error }, 'could not recheck the keys of stream clients');
    } finally {
      checking = false;
    }
  }

  return {
    /** Adds a client; `since` (Last-Event-ID) replays what came after it first. */
    attach(sink: StreamSink, auth: StreamAuth, filter: StreamFilter, since: number | undefined): StreamClient {
      const client: StreamClient = { sink, auth, filter, key: filterKey(filter), state: 'replaying', buffer: [], bufferedBytes: 0, overflowed: false, floor: 0, generation: 0 };
      clients.add(client);
      start(client, since);
      return client;
    },
    /** WebSocket `subscribe`: new filters from now on, or from `since` when given. */
    resubscribe(client: StreamClient, filter: StreamFilter, since: number | undefined) {
      if (client.state === 'gone') return;
      client.filter = filter;
      client.key = filterKey(filter);
      if (since === undefined && client.state === 'live') return;
      if (since !== undefined) client.floor = 0;
      start(client, since);
    },
    /** The transport closed (the client left). */
    detach(client: StreamClient) {
      client.state = 'gone';
      clients.delete(client);
    },
    /** SPEC section 1: at shutdown every stream ends at once; clients resume elsewhere. */
    closeAll() {
      clearInterval(heartbeat);
      unsubscribe();
      for (const client of [...clients]) cut(client, 'shutdown');
    },
    size: () => clients.size,
  };
}

export type StreamHub = ReturnType<typeof makeStreamHub>;

import type { FastifyReply } from 'fastify';
import type { WebSocket } from 'ws';
import { sseChunk, type OutgoingEvent } from './stream-frames.ts';

/**
 * One connected client's transport, as the hub (stream-hub.ts) drives it. Writes never wait: the
 * hub reads `backlog()` after writing and cuts a client whose unsent bytes pass the limit, so a
 * slow client never delays the fan-out to the others (SPEC section 7).
 */
export interface StreamSink {
  readonly transport: 'sse' | 'ws';
  /** Sends events in order; `shared` is the SSE chunk of exactly these events when the hub has one. */
  send(events: readonly OutgoingEvent[], shared?: Buffer): void;
  /** Bytes accepted but not yet handed to the kernel. */
  backlog(): number;
  /** SSE: a comment line; WebSocket: a ping (and a client that missed the last pong is gone). */
  heartbeat(): void;
  /** Ends the stream cleanly (shutdown, a revoked key): whatever is queued goes first, briefly. */
  end(reason: EndReason): void;
  /** Drops the connection at once (a client past its backlog limit). */
  destroy(): void;
  readonly closed: boolean;
}

export type EndReason = 'shutdown' | 'revoked';

const endings: Record<EndReason, { text: string; wsCode: number }> = {
  // 1001 "going away": reconnect (to another process) and resume with the last id.
  shutdown: { text: 'server shutting down; reconnect with Last-Event-ID', wsCode: 1001 },
  // 1008 "policy violation": the credentials are no longer good.
  revoked: { text: 'the API key was revoked', wsCode: 1008 },
};

// A client that does not read what was queued before a clean end is dropped after this long, so
// that shutdown keeps to SHUTDOWN_TIMEOUT_SECONDS (SPEC section 1).
const END_GRACE_MS = 1000;

/**
 * SSE on a hijacked reply. @fastify/sse (0.6) was tried first and set aside: its `send` awaits
 * each write's drain (so a fan-out loop would either wait on the slowest client or pile up a
 * promise and two listeners per event per slow client), it has no bound on a client's unsent
 * bytes, it formats every message for every client (a thousand clients, a thousand
 * serializations), and it keeps no list of open streams to end at shutdown. What is left of it,
 * the headers and a heartbeat, is the few lines below.
 */
export function openSseSink(reply: FastifyReply, onClose: () => void): StreamSink {
  reply.hijack();
  const response = reply.raw;
  let closed = false;
  response.on('close', () => {
    closed = true;
    onClose();
  });
  response.on('error', () => response.destroy());
  response.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    // Proxies that buffer responses (nginx) would hold events back.
    'x-accel-buffering': 'no',
    // The connection ends with the stream (a client reconnects with a new request anyway), so a
    // stream ended at shutdown leaves no idle keep-alive socket to hold the server open.
    connection: 'close',
  });
  // Sends the headers now: a client knows it is connected before the first event.
  response.write(': connected\n\n');
  const write = (chunk: Buffer | string) => {
    if (!closed && !response.writableEnded) response.write(chunk);
  };
  return {
    transport: 'sse',
    send: (events, shared) => write(shared ?? sseChunk(events)),
    backlog: () => response.writableLength,
    heartbeat: () => write(': ping\n\n'),
    end(reason) {
      if (closed || response.writableEnded) return;
      response.end(`: ${endings[reason].text}\n\n`);
      setTimeout(() => response.destroy(), END_GRACE_MS).unref();
    },
    destroy: () => response.destroy(),
    get closed() {
      return closed;
    },
  };
}

/** The WebSocket side: one JSON message per event (SPEC section 7), a ping per heartbeat. */
export function openWsSink(socket: WebSocket, onClose: () => void): StreamSink {
  let closed = false;
  let alive = true;
  socket.on('pong', () => (alive = true));
  socket.on('close', () => {
    closed = true;
    onClose();
  });
  const open = () => !closed && socket.readyState === socket.OPEN;
  return {
    transport: 'ws',
    send(events) {
      if (!open()) return;
      for (const event of events) socket.send(event.json());
    },
    backlog: () => socket.bufferedAmount,
    heartbeat() {
      if (!open()) return;
      if (!alive) {
        socket.terminate();
        return;
      }
      alive = false;
      socket.ping();
    },
    end(reason) {
      if (!open()) return;
      socket.close(endings[reason].wsCode, endings[reason].text);
      setTimeout(() => socket.terminate(), END_GRACE_MS).unref();
    },
    destroy: () => socket.terminate(),
    get closed() {
      return closed;
    },
  };
}

/** Sends one message outside the event flow (an error, a subscription's acknowledgement). */
export function sendWsMessage(socket: WebSocket, message: unknown): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
}

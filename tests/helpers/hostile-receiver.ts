import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * What a hostile receiver does with the n-th request it sees (0-based), on a raw socket: anything
 * a real HTTP server would never send (NUL bytes, invalid UTF-8, a body that never ends, a reset).
 */
export type Behaviour = (socket: Socket, index: number, request: HostileRequest) => void;

export interface HostileRequest {
  at: number;
  /** The request line and headers, as sent. */
  head: string;
  body: string;
}

/**
 * An HTTP/1.1 receiver written on node:net, so a test controls every byte of the answer. It
 * counts each complete request (headers and Content-Length body) it receives; one request per
 * connection, as `connection: close` answers tell the client.
 */
export async function startHostileReceiver(behaviour: Behaviour) {
  const requests: HostileRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = Buffer.alloc(0);
    let seen = false;
    socket.on('data', (chunk: Buffer) => {
      if (seen) return;
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffer.subarray(0, end).toString('latin1');
      const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (buffer.length < end + 4 + length) return;
      seen = true;
      const index = requests.length;
      const request = { at: Date.now(), head, body: buffer.subarray(end + 4, end + 4 + length).toString('utf8') };
      requests.push(request);
      behaviour(socket, index, request);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type HostileReceiver = Awaited<ReturnType<typeof startHostileReceiver>>;

/** A complete answer: status line, headers and a body of raw bytes, then the connection closes. */
export function answer(socket: Socket, status: number, body: Buffer | string = '', headers: Record<string, string> = {}): void {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const lines = [`HTTP/1.1 ${status} Whatever`, `content-length: ${bytes.length}`, 'connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  socket.end(bytes);
}

/** Sends a big body in chunks, respecting backpressure, then closes. */
export function answerHuge(socket: Socket, status: number, size: number): void {
  socket.write(`HTTP/1.1 ${status} Huge\r\ncontent-length: ${size}\r\nconnection: close\r\n\r\n`);
  const chunk = Buffer.alloc(64 * 1024, 'x');
  let sent = 0;
  const pump = () => {
    while (sent < size && !socket.destroyed) {
      const part = chunk.subarray(0, Math.min(chunk.length, size - sent));
      sent += part.length;
      if (!socket.write(part)) return void socket.once('drain', pump);
    }
    socket.end();
  };
  pump();
}

/** Sends the status line and headers, then one byte of body every `everyMs`, for ever. */
export function trickle(socket: Socket, status: number, everyMs: number): void {
  socket.write(`HTTP/1.1 ${status} Slow\r\ncontent-length: 100000\r\nconnection: close\r\n\r\n`);
  const timer = setInterval(() => (socket.destroyed ? clearInterval(timer) : socket.write('.')), everyMs);
  socket.on('close', () => clearInterval(timer));
}

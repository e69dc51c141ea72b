import http from 'node:http';
import WebSocket from 'ws';

// Stream clients for the tests of SPEC section 7: a plain HTTP SSE reader (so a test can see the
// raw frames, pause the socket, and send Last-Event-ID) and a `ws` WebSocket client (which,
// unlike the browser's, can send an Authorization header and an Origin).

export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

export interface SseClient {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The error body of a refused stream. */
  body?: { code: string; message: string; request_id: string; details?: unknown };
  events: SseEvent[];
  comments: string[];
  /** Set when the server ended or dropped the stream. */
  ended: boolean;
  response: http.IncomingMessage;
  /** The ids of the events received, as numbers (reset included). */
  ids(): number[];
  /** The parsed `data` of each event of these types. */
  payloads(...types: string[]): { id: number; type: string; at: string; data: unknown }[];
  close(): void;
}

export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false }, (response) => {
      const client: SseClient = {
        status: response.statusCode ?? 0,
        headers: response.headers,
        events: [],
        comments: [],
        ended: false,
        response,
        ids: () => client.events.map((event) => Number(event.id)),
        payloads: (...types) =>
          client.events.filter((event) => types.length === 0 || types.includes(event.event ?? '')).map((event) => JSON.parse(event.data)),
        close: () => request.destroy(),
      };
      response.setEncoding('utf8');
      if (client.status !== 200) {
        let text = '';
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          client.body = text ? JSON.parse(text) : undefined;
          client.ended = true;
          resolve(client);
        });
        return;
      }
      let pending = '';
      response.on('data', (chunk: string) => {
        pending += chunk;
        let end: number;
        while ((end = pending.indexOf('\n\n')) >= 0) {
          const block = pending.slice(0, end);
          pending = pending.slice(end + 2);
          const event: SseEvent = { data: '' };
          let isEvent = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) client.comments.push(line.slice(1).trim());
            else {
              const [field, ...rest] = line.split(':');
              const value = rest.join(':').replace(/^ /, '');
              if (field === 'id') event.id = value;
              else if (field === 'event') event.event = value;
              else if (field === 'data') event.data += value;
              isEvent = true;
            }
          }
          if (isEvent) client.events.push(event);
        }
      });
      const ended = () => (client.ended = true);
      response.on('end', ended);
      response.on('close', ended);
      response.on('error', ended);
      resolve(client);
    });
    request.on('error', reject);
  });
}

export interface WsClient {
  socket: WebSocket;
  /** Every message received, parsed. */
  messages: Record<string, unknown>[];
  /** The events among them (messages with an id and a type). */
  events(): { id: number; type: string; at: string; data: unknown }[];
  closed?: { code: number; reason: string };
  send(message: unknown): void;
  close(): void;
}

/** Opens a WebSocket; resolves with the client, or with the HTTP status and body of a refused upgrade. */
export function openWs(url: string, headers: Record<string, string> = {}): Promise<{ client?: WsClient; status?: number; body?: { code: string } }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    const client: WsClient = {
      socket,
      messages: [],
      events: () => client.messages.filter((m) => typeof m.id === 'number' && typeof m.type === 'string') as never,
      send: (message) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
      close: () => socket.terminate(),
    };
    socket.on('message', (data) => client.messages.push(JSON.parse(String(data))));
    socket.on('close', (code, reason) => (client.closed = { code, reason: String(reason) }));
    socket.once('open', () => resolve({ client }));
    socket.once('unexpected-response', (_request, response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode, body: text ? JSON.parse(text) : undefined }));
    });
    socket.on('error', () => {});
    socket.once('error', (error) => {
      if (socket.readyState === WebSocket.CLOSED || socket.readyState === WebSocket.CLOSING) reject(error);
    });
  });
}

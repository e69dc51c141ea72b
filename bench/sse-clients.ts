// Stream clients for the benchmarks (SPEC section 9): `node bench/sse-clients.ts '{"url","key","clients"}'`
// opens that many SSE connections to GET /v1/stream, prints `ready` once all are open, and, when its
// stdin closes, prints one JSON line: for each event (keyed by its data.id), how many clients got it
// and when the last one did (wall-clock ms). A process of its own, so that a thousand sockets do not
// share an event loop with whatever the bench measures.
import http from 'node:http';
import net from 'node:net';

const { url, key, clients, countOnly } = JSON.parse(process.argv[2]!) as { url: string; key: string; clients: number; countOnly?: boolean };
const now = () => performance.timeOrigin + performance.now();
const seen = new Map<string, { count: number; last: number }>();
let events = 0;
let dropped = 0;
// Every event's data that carries an id carries it first (incidentView, the feed's json_build_object).
const idOf = /"data":\{"id":"([^"]+)"/;
const separator = Buffer.from('\n\n');
// Every event frame has this line, after its `id:` line; a heartbeat comment has not.
const eventLine = Buffer.from('\nevent: ');
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

/**
 * A count-only client (the delivery phase) on a bare TCP socket: it writes the GET itself, checks
 * the status line, then counts each frame's `event:` line where it lies, in native searches, with
 * nothing copied. Node's HTTP client was the clients' process's largest cost (llhttp and the
 * stream machinery took 60% of its CPU for bytes this client only counts), and this process shares
 * the two cores with the service it measures, where one of 100 remote browsers would cost the
 * server nothing. The body is chunked, but every chunk is whole frames (one write of the hub), so
 * a chunk-size line never falls inside an `event:` line; a line split across reads is caught by
 * the carried tail.
 */
function connectCounting(): Promise<void> {
  const target = new URL(`${url}/v1/stream`);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(target.port || 80), target.hostname);
    let status = '';
    let tail: Buffer = Buffer.alloc(0);
    const count = (chunk: Buffer) => {
      if (tail.length > 0 && Buffer.concat([tail, chunk.subarray(0, eventLine.length - 1)]).includes(eventLine)) events++;
      for (let at = chunk.indexOf(eventLine); at >= 0; at = chunk.indexOf(eventLine, at + eventLine.length)) events++;
      tail = chunk.subarray(Math.max(0, chunk.length - (eventLine.length - 1)));
    };
    const onData = (chunk: Buffer) => {
      if (status.length === 0 || !status.includes('\r\n')) {
        status += chunk.toString('latin1', 0, Math.min(chunk.length, 64));
        if (!status.includes('\r\n')) return;
        if (!/^HTTP\/1\.1 200 /.test(status)) {
          socket.destroy();
          return reject(new Error(`stream answered ${status.split('\r\n')[0]}`));
        }
        resolve();
      }
      count(chunk);
    };
    socket.on('connect', () =>
      socket.write(`GET ${target.pathname} HTTP/1.1\r\nhost: ${target.host}\r\nauthorization: Bearer ${key}\r\naccept: text/event-stream\r\n\r\n`),
    );
    socket.on('data', onData);
    socket.on('error', reject);
    socket.on('close', () => dropped++);
  });
}

function connect(): Promise<void> {
  if (countOnly) return connectCounting();
  return new Promise((resolve, reject) => {
    const request = http.get(`${url}/v1/stream`, { agent, headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' } }, (response) => {
      if (response.statusCode !== 200) return reject(new Error(`stream answered ${response.statusCode}`));
      // Bytes, not strings: a frame's id is read from its first bytes, the rest is only counted,
      // so that the clients' process costs little beside the service it measures.
      let pending: Buffer = Buffer.alloc(0);
      response.on('data', (chunk: Buffer) => {
        const at = now();
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        let start = 0;
        let end: number;
        while ((end = pending.indexOf(separator, start)) >= 0) {
          const head = pending.toString('latin1', start, Math.min(end, start + 256));
          start = end + 2;
          if (!head.includes('\ndata: ')) continue;
          events++;
          const id = idOf.exec(head)?.[1];
          if (!id) continue;
          const entry = seen.get(id);
          if (entry) {
            entry.count++;
            entry.last = Math.max(entry.last, at);
          } else seen.set(id, { count: 1, last: at });
        }
        pending = pending.subarray(start);
      });
      response.on('close', () => dropped++);
      resolve();
    });
    request.on('error', reject);
  });
}

// Opened 50 at a time, as a crowd of browsers would arrive, not all in one tick.
for (let i = 0; i < clients; i += 50) await Promise.all(Array.from({ length: Math.min(50, clients - i) }, connect));
process.stdout.write('ready\n');
process.stdin.resume();
process.stdin.on('end', () => {
  process.stdout.write(`${JSON.stringify({ events, dropped, seen: Object.fromEntries(seen) })}\n`);
  process.exit(0);
});

// Stream clients for the benchmarks (SPEC section 9): `node bench/sse-clients.ts '{"url","key","clients"}'`
// opens that many SSE connections to GET /v1/stream, prints `ready` once all are open, and, when its
// stdin closes, prints one JSON line: for each event (keyed by its data.id), how many clients got it
// and when the last one did (wall-clock ms). A process of its own, so that a thousand sockets do not
// share an event loop with whatever the bench measures.
import http from 'node:http';

const { url, key, clients } = JSON.parse(process.argv[2]!) as { url: string; key: string; clients: number };
const now = () => performance.timeOrigin + performance.now();
const seen = new Map<string, { count: number; last: number }>();
let events = 0;
let dropped = 0;
const idOf = /"data":\{"id":"([^"]+)"/;
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

function connect(): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${url}/v1/stream`, { agent, headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' } }, (response) => {
      if (response.statusCode !== 200) return reject(new Error(`stream answered ${response.statusCode}`));
      response.setEncoding('utf8');
      let pending = '';
      response.on('data', (chunk: string) => {
        const at = now();
        pending += chunk;
        let end: number;
        while ((end = pending.indexOf('\n\n')) >= 0) {
          const frame = pending.slice(0, end);
          pending = pending.slice(end + 2);
          const data = frame.indexOf('\ndata: ');
          if (data < 0) continue;
          events++;
          // One process plays a thousand clients, each of which would parse only its own copy: the
          // id is read without parsing (jsonb puts the short key "id" first), else by parsing.
          const id = idOf.exec(frame)?.[1] ?? (JSON.parse(frame.slice(data + 7)) as { data?: { id?: string } }).data?.id;
          if (!id) continue;
          const entry = seen.get(id);
          if (entry) {
            entry.count++;
            entry.last = Math.max(entry.last, at);
          } else seen.set(id, { count: 1, last: at });
        }
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

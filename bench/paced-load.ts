// An open-loop load generator for the latency figure: one request every 1/rate seconds, stamped
// with its send time just before it is written. (autocannon's rate limiting prepares a request
// before waiting for its slot, so a stamp taken in its setupRequest is up to 1/rate too early.)
// Input: one JSON argument; output: one JSON line.
import { Pool } from 'undici';

const job = JSON.parse(process.argv[2]!) as { url: string; path: string; key: string; rate: number; duration: number; warmup: number; receiver: string };
const pool = new Pool(job.url, { connections: 16, pipelining: 1 });
const now = () => performance.timeOrigin + performance.now();
const interval = 1000 / job.rate;
// The first `warmup` seconds open the connection pools and let V8 compile the hot paths; those
// requests go to /warmup and are not measured, so the figure is the steady state.
const warmup = Math.round(job.rate * job.warmup);
const total = warmup + Math.round(job.rate * job.duration);
const responseTimes: number[] = [];
let failures = 0;
const inflight: Promise<void>[] = [];
const start = performance.now();

for (let i = 0; i < total; i++) {
  const due = start + i * interval;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  const sentAt = now();
  inflight.push(
    pool
      .request({
        method: 'POST',
        path: job.path,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${job.key}` },
        body: JSON.stringify({ channel: 'webhook', recipient: `${job.receiver}/${i < warmup ? 'warmup' : 'latency'}`, content: `latency ${i}`, metadata: { sent_at_ms: sentAt } }),
      })
      .then(async (response) => {
        await response.body.dump();
        if (response.statusCode !== 201) failures += 1;
        if (i >= warmup) responseTimes.push(now() - sentAt);
      }, () => {
        failures += 1;
      }),
  );
}
await Promise.all(inflight);
await pool.close();
responseTimes.sort((a, b) => a - b);
const pct = (p: number) => responseTimes[Math.min(responseTimes.length - 1, Math.ceil((p / 100) * responseTimes.length) - 1)] ?? NaN;
process.stdout.write(`${JSON.stringify({ requests: total - warmup, non2xx: failures, response_p50_ms: pct(50), response_p99_ms: pct(99), seconds: (performance.now() - start) / 1000 })}\n`);

// The sender baseline (SPEC section 9): what a user would write instead of Tocsin. A bare pg-boss
// worker, tuned like the queue baseline (batches, concurrency, LISTEN/NOTIFY, burst fetching),
// that POSTs each job's payload with a Standard Webhooks signature to the same receiver through a
// keep-alive pool (undici, as many connections as Tocsin's) and completes the batch. No status,
// no attempts, no rate limit, no circuit breaker. A backlog is inserted first, then drained; the
// drain rate is the figure. Env: DATABASE_URL, RECEIVER (a URL), JOBS, BATCH_SIZE, CONCURRENCY.
import { createHmac, createSecretKey, randomUUID } from 'node:crypto';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { Agent, request } from 'undici';
import { postgresCpuMs } from './cpu.ts';

const jobs = Number(process.env.JOBS ?? 20_000);
const batchSize = Number(process.env.BATCH_SIZE ?? 200);
const concurrency = Number(process.env.CONCURRENCY ?? 3);
const receiver = process.env.RECEIVER!;
const secret = createSecretKey(Buffer.from('c2VuZGVyLWJhc2VsaW5lLXNlY3JldA==', 'base64'));
const agent = new Agent({ connections: 64, keepAliveTimeout: 30_000 });

interface Payload {
  id: string;
  content: string;
  created_at: string;
}

// A schema of its own for each run: the jobs a previous run completed would otherwise sit in the
// same table, under statistics taken before this run's backlog existed (the bench database runs
// without autovacuum between its own VACUUM ANALYZEs), and the second run drained 472 jobs/s
// against the first's 5,425.
const schema = `bench_sender_${process.pid}`;
const boss = new PgBoss({ connectionString: process.env.DATABASE_URL!, schema, useListenNotify: true, supervise: false, schedule: false });
boss.on('error', () => {});
await boss.start();
const queue = `sender-${Date.now()}`;
await boss.createQueue(queue, { notify: true });
for (let i = 0; i < jobs; i += 1000) {
  await boss.insert(queue, Array.from({ length: Math.min(1000, jobs - i) }, (_, k) => ({
    data: { id: randomUUID(), content: `backlog ${i + k}`, created_at: new Date().toISOString() } satisfies Payload,
  })));
}

// As bench/run.ts does before each of Tocsin's drains (settleWal): the drain starts just after a
// checkpoint, wherever the previous phases left PostgreSQL's checkpoint cycle. The same client
// reads the WAL position at the start and the end of the drain (bench/run.ts's WAL per job).
const walClient = new pg.Client({ connectionString: process.env.DATABASE_URL! });
await walClient.connect();
await walClient.query('checkpoint').catch(() => {});
const walPosition = async () => (await walClient.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')).rows[0]!.lsn;

async function send(payload: Payload): Promise<void> {
  const body = JSON.stringify({ type: 'notification', ...payload });
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = `v1,${createHmac('sha256', secret).update(`${payload.id}.${timestamp}.${body}`).digest('base64')}`;
  const response = await request(`${receiver}/sender`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/json', 'webhook-id': payload.id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature },
    body,
  });
  await response.body.dump();
  if (response.statusCode >= 300) throw new Error(`receiver answered ${response.statusCode}`);
}

let done = 0;
const started = performance.now();
// What the drain costs in CPU, this process's and PostgreSQL's (the inserts above are not counted).
const cpu0 = { self: process.cpuUsage(), postgres: postgresCpuMs() };
const wal0 = await walPosition();
let cpuAtEnd: { self: NodeJS.CpuUsage; postgres: number } | undefined;
let walAtEnd: Promise<string> | undefined;
const finished = new Promise<number>((resolve) => {
  void boss.work<Payload>(
    queue,
    { batchSize, localConcurrency: concurrency, pollingIntervalSeconds: 0.5, notifyPollingIntervalSeconds: 2, burstWhenBatchFull: true },
    async (batch) => {
      // Returning completes the whole batch; a throw would fail it (and pg-boss retry it).
      await Promise.all(batch.map((job) => send(job.data)));
      done += batch.length;
      if (done >= jobs && !cpuAtEnd) {
        cpuAtEnd = { self: process.cpuUsage(cpu0.self), postgres: postgresCpuMs() - cpu0.postgres };
        walAtEnd = walPosition();
        resolve(performance.now());
      }
    },
  );
});
const ended = await finished;
const walBytes = Number(
  (await walClient.query<{ bytes: string }>('select pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::text as bytes', [await walAtEnd!, wal0])).rows[0]!.bytes,
);
await boss.stop({ graceful: true, timeout: 10_000 });
await agent.close();
await walClient.query(`drop schema if exists ${schema} cascade`);
await walClient.end();
const per = (ms: number) => +(ms / jobs).toFixed(3);
const cpu_ms_per_job = { sender: per((cpuAtEnd!.self.user + cpuAtEnd!.self.system) / 1000), postgres: per(cpuAtEnd!.postgres) };
process.stdout.write(`${JSON.stringify({ jobs, seconds: (ended - started) / 1000, jobs_per_s: jobs / ((ended - started) / 1000), cpu_ms_per_job, wal_bytes_per_job: Math.round(walBytes / jobs) })}\n`);

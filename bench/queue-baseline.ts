// The queue baseline (SPEC section 9): bare pg-boss on the same database with a no-op handler,
// tuned the way Tocsin's workers are (batches, concurrency, LISTEN/NOTIFY, burst fetching).
// A backlog is inserted first, then drained; the drain rate is the figure.
import { PgBoss } from 'pg-boss';

const jobs = Number(process.env.JOBS ?? 20_000);
const batchSize = Number(process.env.BATCH_SIZE ?? 50);
const concurrency = Number(process.env.CONCURRENCY ?? 2);
const boss = new PgBoss({ connectionString: process.env.DATABASE_URL!, schema: 'bench_boss', useListenNotify: true, supervise: false, schedule: false });
boss.on('error', () => {});
await boss.start();
const queue = `baseline-${Date.now()}`;
await boss.createQueue(queue, { notify: true });
for (let i = 0; i < jobs; i += 1000) {
  await boss.insert(queue, Array.from({ length: Math.min(1000, jobs - i) }, (_, k) => ({ data: { n: i + k } })));
}
let done = 0;
const started = performance.now();
const finished = new Promise<number>((resolve) => {
  void boss.work(
    queue,
    { batchSize, localConcurrency: concurrency, pollingIntervalSeconds: 0.5, notifyPollingIntervalSeconds: 2, burstWhenBatchFull: true },
    async (batch) => {
      done += batch.length;
      if (done >= jobs) resolve(performance.now());
    },
  );
});
const ended = await finished;
// Let the last completion commit before measuring nothing more and stopping.
await boss.stop({ graceful: true, timeout: 10_000 });
process.stdout.write(`${JSON.stringify({ jobs, seconds: (ended - started) / 1000, jobs_per_s: jobs / ((ended - started) / 1000) })}\n`);

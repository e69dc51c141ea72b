// SPEC section 4, delivery integrity (issue 9): a failed write of an outcome is retried, so the
// connections dying between a delivery and its recording deliver nothing twice; a worker whose job
// was taken over (its heartbeat lapsed) records its attempt but cannot overwrite the new holder's
// outcome; a failed signing secret lookup is tried again; NOTIFICATION_RETENTION_DAYS deletes
// ended notifications. Real PostgreSQL, real worker processes, real local receivers.
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { RETENTION_QUEUE } from '../src/adapters/queue/retention-worker.ts';
import { eventually, startHttpReceiver, type HttpReceiver, type Received } from './helpers/receivers.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';
import { killAllWorkers, startWorkerProcess } from './helpers/worker-process.ts';

let t: TestApp | undefined;
let hook: HttpReceiver | undefined;

afterEach(async () => {
  await killAllWorkers();
  await t?.close();
  await hook?.close();
  t = hook = undefined;
});

const env = { ALLOW_PRIVATE_TARGETS: 'true', RATE_LIMIT_MAX: '100000', RETRY_BACKOFF: '100ms', CHANNEL_RATE_LIMIT_PER_SECOND: '5000' };
const idOf = (request: Received) => request.headers['webhook-id'] as string;

async function createWebhooks(app: TestApp, url: string, count: number, extra: Record<string, unknown> = {}): Promise<string[]> {
  const notifications = Array.from({ length: count }, (_, i) => ({ channel: 'webhook', recipient: url, content: `message ${i}`, ...extra }));
  const response = await app.call({ method: 'POST', url: '/v1/notifications/batch', payload: { notifications } });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().ids;
}

/** Per notification: the attempts recorded, and the requests the receiver saw. */
async function attemptsAndArrivals(app: TestApp, receiver: HttpReceiver, ids: string[]) {
  const rows = await app.db.selectFrom('notification_attempts').select(['notification_id', 'attempt']).where('notification_id', 'in', ids).execute();
  const recorded = new Map<string, number[]>();
  for (const row of rows) recorded.set(row.notification_id, [...(recorded.get(row.notification_id) ?? []), row.attempt].sort((a, b) => a - b));
  const arrived = new Map<string, number[]>();
  for (const request of receiver.received) arrived.set(idOf(request), [...(arrived.get(idOf(request)) ?? []), JSON.parse(request.body).attempt].sort((a, b) => a - b));
  return { recorded, arrived };
}

describe('connections terminated between a delivery and its recording', () => {
  it('the outcome is written on a new connection: nothing is delivered twice, every request is one attempt', async () => {
    hook = await startHttpReceiver();
    t = await startTestApp({ role: 'all', env: { ...env, WORKER_BATCH_SIZE: '10', WORKER_CONCURRENCY: '3' } });
    const admin = new pg.Client({ connectionString: t.databaseUrl });
    await admin.connect();
    let terminated = 0;
    try {
      const database = new URL(t.databaseUrl).pathname.slice(1);
      // On these arrivals the receiver kills every connection of the test's database (the
      // worker's pool, pg-boss's) and only then answers: the worker has delivered, and every
      // connection it would record with is dead.
      const killOn = new Set([20, 75, 130, 180]);
      hook.respond = async (_request, index) => {
        if (killOn.has(index)) {
          const { rows } = await admin.query('select count(pg_terminate_backend(pid)) as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [database]);
          terminated += Number(rows[0].n);
        }
        return { status: 200, body: '{}' };
      };
      const ids = await createWebhooks(t, `${hook.url}/h`, 200);
      await eventually(async () => {
        const row = await t!.db.selectFrom('notifications').select((eb) => eb.fn.countAll<string>().as('n')).where('status', '=', 'sent').executeTakeFirstOrThrow();
        return Number(row.n) === ids.length;
      }, 60_000, 'all 200 sent');
      expect(terminated).toBeGreaterThanOrEqual(4);
      const { recorded, arrived } = await attemptsAndArrivals(t, hook, ids);
      for (const id of ids) {
        expect(arrived.get(id), `requests for ${id}`).toEqual([1]);
        expect(recorded.get(id), `attempts of ${id}`).toEqual([1]);
      }
      expect(hook.received).toHaveLength(ids.length);
    } finally {
      await admin.end();
    }
  }, 90_000);
});

describe('two workers holding the same notification after a lapsed heartbeat', () => {
  it('one outcome wins, the other is recorded as an attempt and overwrites nothing', async () => {
    hook = await startHttpReceiver();
    t = await startTestApp({ role: 'api', env });
    let releaseFirst: (reply: { status: number; body: string }) => void = () => {};
    const heldFirst = new Promise<{ status: number; body: string }>((resolve) => (releaseFirst = resolve));
    hook.respond = (_request, index) => (index === 0 ? heldFirst : { status: 200, body: '{}' });
    const workerEnv = { DATABASE_URL: t.databaseUrl, ...env, SWEEP_INTERVAL_SECONDS: '1' };
    const first = await startWorkerProcess(workerEnv);
    const [id] = await createWebhooks(t, `${hook.url}/h`, 1, { max_retries: 3 });
    await eventually(() => hook!.received.length === 1, 20_000, 'the first worker to deliver');

    // The first worker freezes with the request in flight: its job's heartbeat lapses, and pg-boss
    // hands the job to the second worker, whose claim takes attempt 2.
    first.child.kill('SIGSTOP');
    try {
      await startWorkerProcess(workerEnv);
      const sent = await eventually(async () => {
        const n = (await t!.call({ method: 'GET', url: `/v1/notifications/${id}` })).json();
        return n.status === 'sent' && n;
      }, 60_000, 'the second worker to deliver and record');
      expect(sent.attempts.map((a: { attempt: number }) => a.attempt)).toEqual([2]);
      expect(hook.received.map((r) => JSON.parse(r.body).attempt)).toEqual([1, 2]);

      // The first worker wakes up and its request fails: it records attempt 1, but the
      // notification stays sent, with no retry job.
      first.child.kill('SIGCONT');
      releaseFirst({ status: 500, body: 'too late' });
      const after = await eventually(async () => {
        const n = (await t!.call({ method: 'GET', url: `/v1/notifications/${id}` })).json();
        return n.attempts.length === 2 && n;
      }, 30_000, 'the first worker to record its attempt');
      expect(after.attempts.map((a: { attempt: number; outcome: string }) => [a.attempt, a.outcome])).toEqual([[1, 'retry'], [2, 'sent']]);
      expect(after.status).toBe('sent');
      expect(after.sent_at).toBe(sent.sent_at);
      expect(after.last_error).toBeNull();
      expect(after.retry_count).toBe(0);
      await delay(1500); // a retry job, had one been made, would have gone out by now
      expect(hook.received).toHaveLength(2);
      const { rows } = await sql<{ n: string }>`select count(*) as n from pgboss.job where name = 'notify-webhook' and state in ('created', 'retry')`.execute(t.db);
      expect(Number(rows[0]!.n)).toBe(0);
    } finally {
      first.child.kill('SIGCONT');
    }
  }, 120_000);
});

describe('an incident deleted while its notification is out', () => {
  it('the outcome is recorded all the same, once, and the batch is not delivered again', async () => {
    hook = await startHttpReceiver();
    t = await startTestApp({ role: 'all', env });
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    hook.respond = async () => {
      await held;
      return { status: 200, body: '{}' };
    };
    const incident = (await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'deleted meanwhile' } })).json().id as string;
    const ids = await createWebhooks(t, `${hook.url}/h`, 3, { incident_id: incident });
    await eventually(() => hook!.received.length === 3, 20_000, 'the deliveries to be out');
    expect((await t.call({ method: 'DELETE', url: `/v1/incidents/${incident}` })).statusCode).toBe(204);
    release();
    await eventually(async () => (await t!.db.selectFrom('notifications').select('status').where('status', '=', 'sent').execute()).length === 3, 20_000, 'all three sent');
    const { recorded, arrived } = await attemptsAndArrivals(t, hook, ids);
    for (const id of ids) {
      expect(recorded.get(id)).toEqual([1]);
      expect(arrived.get(id)).toEqual([1]);
    }
    await delay(500);
    expect(hook.received).toHaveLength(3);
  }, 60_000);
});

describe('the webhook signing secret', () => {
  it('is looked up again after a failed lookup, instead of failing every delivery until a restart', async () => {
    hook = await startHttpReceiver();
    t = await startTestApp({ role: 'api', env }); // no WEBHOOK_SIGNING_SECRET: it comes from the database
    await sql`alter table settings rename to settings_away`.execute(t.db);
    const worker = await startTestApp({ role: 'all', env, shareDatabaseOf: t });
    try {
      const [id] = await createWebhooks(t, `${hook.url}/h`, 1, { max_retries: 5 });
      await eventually(async () => (await t!.db.selectFrom('notification_attempts').select('attempt').where('notification_id', '=', id!).execute()).length >= 1, 20_000, 'a failed attempt');
      await sql`alter table settings_away rename to settings`.execute(t.db);
      const n = await eventually(async () => {
        const found = (await t!.call({ method: 'GET', url: `/v1/notifications/${id}` })).json();
        return found.status !== 'queued' && found.status !== 'sending' && found;
      }, 20_000, 'the notification to end');
      expect(n.status).toBe('sent');
      expect(n.attempts[0].error).toMatch(/settings/);
      expect(hook.received).toHaveLength(1);
      expect(hook.received[0]!.headers['webhook-signature']).toMatch(/^v1,/);
    } finally {
      await worker.service.close();
    }
  }, 60_000);
});

describe('NOTIFICATION_RETENTION_DAYS', () => {
  it('a daily job deletes notifications that ended longer ago, with their attempts, in batches; the timeline keeps what happened', async () => {
    hook = await startHttpReceiver();
    t = await startTestApp({ role: 'all', env: { ...env, NOTIFICATION_RETENTION_DAYS: '1' } });
    const boss = t.service.queue.boss;
    expect((await boss.getSchedules(RETENTION_QUEUE)).map((s) => s.cron)).toEqual(['17 3 * * *']);

    const incident = (await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'retention' } })).json().id as string;
    const [oldSent, recentSent] = await createWebhooks(t, `${hook.url}/h`, 2, { incident_id: incident });
    const pending = (await createWebhooks(t, `${hook.url}/h`, 1, { scheduled_at: new Date(Date.now() + 86_400_000).toISOString() }))[0]!;
    await eventually(async () => (await t!.db.selectFrom('notifications').select('id').where('status', '=', 'sent').execute()).length === 2, 20_000, 'two sent');
    // 2,500 more that ended three days ago, to take several batches of 1,000.
    await sql`
      insert into notifications (channel, recipient, content, status, max_retries, created_at, updated_at)
      select 'webhook', 'http://127.0.0.1:9/x', 'old ' || i, (array['sent', 'failed', 'cancelled'])[1 + i % 3], 3, now() - interval '3 days', now() - interval '3 days'
      from generate_series(1, 2500) as i`.execute(t.db);
    await sql`update notifications set created_at = now() - interval '3 days', updated_at = now() - interval '2 days' where id in (${oldSent}, ${pending})`.execute(t.db);

    await boss.send(RETENTION_QUEUE);
    await eventually(async () => (await t!.db.selectFrom('notifications').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n === '2', 30_000, 'the old ended ones to go');
    const left = (await t.db.selectFrom('notifications').select('id').execute()).map((r) => r.id).sort();
    expect(left).toEqual([recentSent, pending].sort());
    expect(await t.db.selectFrom('notification_attempts').select('notification_id').where('notification_id', '=', oldSent!).execute()).toEqual([]);
    expect((await t.call({ method: 'GET', url: `/v1/notifications/${oldSent}` })).statusCode).toBe(404);
    // The incident's timeline still says the deleted one was sent.
    const events = (await t.call({ method: 'GET', url: `/v1/incidents/${incident}/events` })).json().data as { type: string; data: { notification_id?: string } }[];
    expect(events.filter((e) => e.type === 'notification.sent').map((e) => e.data.notification_id).sort()).toEqual([oldSent, recentSent].sort());
  }, 60_000);
});

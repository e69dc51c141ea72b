// SPEC section 4, "nothing accepted is ever stranded" (issue 9): notifications and escalation
// steps whose pg-boss job is gone, failed (pg-boss gave up and dead-lettered it) or completed
// without the row moving on are found by the sweep and put back on the queue; each recovery is
// logged and counted in /metrics. The stranded states are made by hand in pg-boss's own table,
// before any worker runs, exactly as a crash, an expiry or exhausted retries leave them.
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { ESCALATION_QUEUE } from '../src/adapters/queue/escalation-queue.ts';
import { startService, type Service } from '../src/service.ts';
import { eventually, startHttpReceiver, type HttpReceiver } from './helpers/receivers.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

let t: TestApp;
let hook: HttpReceiver;
let worker: Service | undefined;
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  hook = await startHttpReceiver();
  // The API alone: nothing is delivered until the test starts a worker.
  t = await startTestApp({ role: 'api', env: { ALLOW_PRIVATE_TARGETS: 'true', RATE_LIMIT_MAX: '100000' } });
});

afterAll(async () => {
  await worker?.close();
  await t?.close();
  await hook?.close();
});

async function startWorker() {
  const config = loadConfig({ DATABASE_URL: t.databaseUrl, ALLOW_PRIVATE_TARGETS: 'true', RETRY_BACKOFF: '100ms', SWEEP_INTERVAL_SECONDS: '1' });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
      done();
    },
  });
  worker = await startService({ role: 'worker', config, logger: pino({ level: 'warn' }, sink), databaseUrl: t.databaseUrl });
}

const jobOf = async (table: 'notifications', id: string) => (await t.db.selectFrom(table).select('job_id').where('id', '=', id).executeTakeFirstOrThrow()).job_id!;

async function webhook(path: string, extra: Record<string, unknown> = {}): Promise<string> {
  const response = await t.call({ method: 'POST', url: '/v1/notifications', payload: { channel: 'webhook', recipient: `${hook.url}${path}`, content: path, ...extra } });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id;
}

async function metric(kind: string): Promise<number> {
  const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
  const match = new RegExp(`^tocsin_sweep_recovered_total\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : NaN;
}

describe('the sweep', () => {
  it('puts back on the queue every notification and escalation step left without a live job', async () => {
    // 1. A notification whose job is gone (deleted: a crash before it committed, or pg-boss's retention).
    const gone = await webhook('/gone');
    await sql`delete from pgboss.job where name = 'notify-webhook' and id = ${await jobOf('notifications', gone)}`.execute(t.db);
    // 2. One whose job pg-boss failed for good (retries exhausted: dead-lettered by pg-boss).
    const dead = await webhook('/dead');
    await sql`update pgboss.job set state = 'failed', completed_on = now() where name = 'notify-webhook' and id = ${await jobOf('notifications', dead)}`.execute(t.db);
    // 3. One left `sending` by a worker that gave up recording: its job completed, its row did not move.
    const abandoned = await webhook('/abandoned');
    await sql`update notifications set status = 'sending', attempt_count = 1 where id = ${abandoned}`.execute(t.db);
    await sql`update pgboss.job set state = 'completed', completed_on = now() where name = 'notify-webhook' and id = ${await jobOf('notifications', abandoned)}`.execute(t.db);
    // 4. A scheduled one whose job is gone: it must still wait for its time.
    const at = new Date(Date.now() + 4000);
    const scheduled = await webhook('/scheduled', { scheduled_at: at.toISOString() });
    await sql`delete from pgboss.job where name = 'notify-webhook' and id = ${await jobOf('notifications', scheduled)}`.execute(t.db);
    // 5. A healthy one, which the sweep must leave alone.
    const healthy = await webhook('/healthy');

    // 6. An escalation step (level 1, due in 2 s) whose job is gone.
    const users = await Promise.all(['first', 'second'].map(async (name) => {
      const response = await t.call({ method: 'POST', url: '/v1/users', payload: { name, email: `${name}-${Date.now()}@example.com`, contact_methods: [{ type: 'webhook', address: `${hook.url}/page/${name}` }] } });
      expect(response.statusCode, response.body).toBe(201);
      return response.json().id as string;
    }));
    const policy = await t.call({ method: 'POST', url: '/v1/escalation-policies', payload: { name: 'p', levels: [{ delay_seconds: 0, user_ids: [users[0]] }, { delay_seconds: 2, user_ids: [users[1]] }] } });
    const team = await t.call({ method: 'POST', url: '/v1/teams', payload: { name: 'ops', member_ids: users, escalation_policy_id: policy.json().id } });
    const incident = (await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'stranded step', team_id: team.json().id, severity: 'P1' } })).json();
    const step = await t.db.selectFrom('incident_escalations').select(['job_id', 'status']).where('incident_id', '=', incident.id).where('level', '=', 1).executeTakeFirstOrThrow();
    expect(step.status).toBe('scheduled');
    await sql`delete from pgboss.job where name = ${ESCALATION_QUEUE} and id = ${step.job_id}`.execute(t.db);

    expect(await metric('notification')).toBe(0);
    await startWorker();

    const sentIds = [gone, dead, abandoned, scheduled, healthy];
    await eventually(async () => {
      const rows = await t.db.selectFrom('notifications').select(['id', 'status']).where('id', 'in', sentIds).execute();
      return rows.every((r) => r.status === 'sent');
    }, 30_000, 'every stranded notification to be sent');
    await eventually(() => hook.received.some((r) => r.path === '/page/second'), 30_000, 'the stranded level 1 to page');

    // Each went out once; the scheduled one not before its time.
    const byPath = (path: string) => hook.received.filter((r) => r.path === path);
    for (const path of ['/gone', '/dead', '/abandoned', '/scheduled', '/healthy', '/page/first', '/page/second']) expect(byPath(path), path).toHaveLength(1);
    expect(byPath('/scheduled')[0]!.at).toBeGreaterThanOrEqual(at.getTime() - 50);
    // The abandoned claim took attempt 1 and left no row: the sweep's delivery is attempt 2.
    const attempts = (await t.call({ method: 'GET', url: `/v1/notifications/${abandoned}` })).json().attempts;
    expect(attempts.map((a: { attempt: number }) => a.attempt)).toEqual([2]);

    // Counted in /metrics (on the API process: the count lives in PostgreSQL) and logged.
    expect(await metric('notification')).toBe(4);
    expect(await metric('escalation_step')).toBe(1);
    const recoveries = logLines.filter((l) => String(l.msg).startsWith('sweep: a notification had no live job'));
    expect(recoveries.map((l) => l.notification_id).sort()).toEqual([gone, dead, abandoned, scheduled].sort());
    expect(Object.fromEntries(recoveries.map((l) => [l.notification_id, l.old_job_state]))).toEqual({
      [gone]: 'gone', [dead]: 'failed', [abandoned]: 'completed', [scheduled]: 'gone',
    });
    expect(logLines.filter((l) => String(l.msg).startsWith('sweep: an escalation step had no live job'))).toHaveLength(1);

    // Later sweeps find nothing more: the count stays.
    const sweeps = async () => Number((await sql<{ n: string }>`select count(*) as n from pgboss.job where name = 'tocsin-sweep' and state = 'completed'`.execute(t.db)).rows[0]!.n);
    const before = await sweeps();
    await eventually(async () => (await sweeps()) >= before + 2, 15_000, 'two more sweeps');
    expect(await metric('notification')).toBe(4);
    expect(await metric('escalation_step')).toBe(1);
  }, 90_000);
});

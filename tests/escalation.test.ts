import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { loadConfig } from '../src/config.ts';
import { makeLogger } from '../src/logger.ts';
import { ESCALATION_QUEUE } from '../src/adapters/queue/escalation-queue.ts';
import { startService, type Service } from '../src/service.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';
import { eventually, startHttpReceiver, startSmtpReceiver, type HttpReceiver } from './helpers/receivers.ts';

// SPEC section 5: the incident lifecycle drives paging. Real PostgreSQL, real pg-boss jobs, real
// local webhook and SMTP receivers.

let t: TestApp;
let hook: HttpReceiver;
let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;
let env: Record<string, string>;

beforeAll(async () => {
  [hook, smtp] = await Promise.all([startHttpReceiver(), startSmtpReceiver()]);
  env = { ALLOW_PRIVATE_TARGETS: 'true', RATE_LIMIT_MAX: '100000', SMTP_URL: smtp.url, EMAIL_FROM: 'Tocsin <pager@example.com>', RETRY_BACKOFF: '100ms' };
  t = await startTestApp({ role: 'all', env });
});
afterAll(async () => {
  await t.close();
  await Promise.all([hook.close(), smtp.close()]);
});

interface WebhookBody {
  id: string;
  subject: string | null;
  content: string;
  incident_id: string | null;
  metadata: { event?: string; escalation?: { level: number; round: number } };
}

let counter = 0;
/** A user reachable by webhook at a path of their own (and by email when asked). */
async function person(app: TestApp, name: string, extra: Record<string, unknown> = {}, withEmail = false) {
  const tag = `${name}-${++counter}-${Date.now()}`;
  const address = `${tag}@example.com`;
  const response = await app.call({
    method: 'POST',
    url: '/v1/users',
    payload: {
      name,
      email: address,
      contact_methods: [{ type: 'webhook', address: `${hook.url}/u/${tag}` }, ...(withEmail ? [{ type: 'email', address }] : [])],
      ...extra,
    },
    as: 'write',
  });
  expect(response.statusCode).toBe(201);
  return { id: response.json().id as string, path: `/u/${tag}`, email: address };
}

const pagesTo = (path: string): WebhookBody[] => hook.received.filter((r) => r.path === path).map((r) => JSON.parse(r.body) as WebhookBody);
const mailsTo = (address: string) => smtp.messages.filter((m) => m.to.includes(address));

async function teamWithPolicy(app: TestApp, levels: { delay_seconds: number; user_ids: string[] }[], repeat = 0) {
  const policy = await app.call({ method: 'POST', url: '/v1/escalation-policies', payload: { name: 'on call', levels, repeat }, as: 'write' });
  expect(policy.statusCode).toBe(201);
  const members = [...new Set(levels.flatMap((l) => l.user_ids))];
  const team = await app.call({ method: 'POST', url: '/v1/teams', payload: { name: 'ops', member_ids: members, escalation_policy_id: policy.json().id }, as: 'write' });
  expect(team.statusCode).toBe(201);
  return team.json().id as string;
}

async function openIncident(app: TestApp, body: Record<string, unknown>) {
  const response = await app.call({ method: 'POST', url: '/v1/incidents', payload: body, as: 'write' });
  expect(response.statusCode).toBe(201);
  return response.json() as { id: string; notification_status: string; created_at: string };
}

const timeline = async (app: TestApp, id: string) =>
  (await app.call({ method: 'GET', url: `/v1/incidents/${id}/events`, as: 'read' })).json().data as { type: string; actor: string; data: Record<string, unknown> }[];

const steps = async (app: TestApp, id: string) =>
  (await app.call({ method: 'GET', url: `/v1/incidents/${id}/escalations`, as: 'read' })).json().data as { run: number; round: number; level: number; status: string; due_at: string; paged_at: string | null }[];

/**
 * Runs a cancelled step's job now, as a worker that fetched it just before the cancellation
 * committed would (its own id, so only the step's row can stop it), and waits until the job is
 * done. What it did then shows that nothing pages once a step is cancelled: waited for on
 * state, not by sleeping past a due time that a loaded machine might reach first.
 */
async function runCancelledStep(app: TestApp, incidentId: string, round: number, level: number) {
  const step = await app.db
    .selectFrom('incident_escalations')
    .select(['run', 'status', 'job_id'])
    .where('incident_id', '=', incidentId)
    .where('repeat_round', '=', round)
    .where('level', '=', level)
    .executeTakeFirstOrThrow();
  expect(step.status).toBe('cancelled');
  expect(step.job_id).toEqual(expect.any(String));
  const boss = app.service.queue.boss;
  await boss.insert(ESCALATION_QUEUE, [{ id: step.job_id!, data: { incident_id: incidentId, run: step.run, round, level } }]);
  await eventually(async () => (await boss.findJobs(ESCALATION_QUEUE, { id: step.job_id! }))[0]?.state === 'completed', 20_000, 'the cancelled step to run');
  // A page would have been written in the job's transaction: there is none for this step.
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n from notifications
    where incident_id = ${incidentId} and (metadata -> 'escalation' ->> 'round')::int = ${round} and (metadata -> 'escalation' ->> 'level')::int = ${level}`.execute(app.db);
  expect(rows[0]!.n).toBe(0);
}

describe('policies and teams', () => {
  it('refuses references to users and policies that do not exist, naming the field', async () => {
    const a = await person(t, 'Ref');
    const nobody = '00000000-0000-4000-8000-000000000000';
    const policy = await t.call({ method: 'POST', url: '/v1/escalation-policies', payload: { name: 'p', levels: [{ delay_seconds: 0, user_ids: [a.id] }, { delay_seconds: 60, user_ids: [a.id, nobody] }] }, as: 'write' });
    expect(policy.statusCode).toBe(400);
    expect(policy.json().details).toEqual([{ field: 'body.levels.1.user_ids.1', message: 'refers to no user' }]);
    const team = await t.call({ method: 'POST', url: '/v1/teams', payload: { name: 't', member_ids: [nobody], escalation_policy_id: nobody }, as: 'write' });
    expect(team.statusCode).toBe(400);
    expect(team.json().details.map((d: { field: string }) => d.field)).toEqual(['body.member_ids.0', 'body.escalation_policy_id']);
    const noPause = await t.call({ method: 'POST', url: '/v1/escalation-policies', payload: { name: 'p', levels: [{ delay_seconds: 0, user_ids: [a.id] }], repeat: 2 }, as: 'write' });
    expect(noPause.json().details.map((d: { field: string }) => d.field)).toEqual(['body.repeat']);
    const tooMany = await t.call({ method: 'POST', url: '/v1/escalation-policies', payload: { name: 'p', levels: [{ delay_seconds: 5, user_ids: [a.id] }], repeat: 10 }, as: 'write' });
    expect(tooMany.statusCode).toBe(400);
  });

  it('reads policies and teams back, one and in lists', async () => {
    const a = await person(t, 'Read');
    const teamId = await teamWithPolicy(t, [{ delay_seconds: 0, user_ids: [a.id] }, { delay_seconds: 300, user_ids: [a.id] }], 2);
    const team = (await t.call({ method: 'GET', url: `/v1/teams/${teamId}`, as: 'read' })).json();
    expect(team).toMatchObject({ id: teamId, name: 'ops', member_ids: [a.id] });
    const policy = (await t.call({ method: 'GET', url: `/v1/escalation-policies/${team.escalation_policy_id}`, as: 'read' })).json();
    expect(policy).toMatchObject({ repeat: 2, levels: [{ level: 0, delay_seconds: 0, user_ids: [a.id] }, { level: 1, delay_seconds: 300, user_ids: [a.id] }] });
    expect((await t.call({ method: 'GET', url: '/v1/teams', as: 'read' })).json().data.map((x: { id: string }) => x.id)).toContain(teamId);
    expect((await t.call({ method: 'GET', url: '/v1/escalation-policies', as: 'read' })).json().data.map((x: { id: string }) => x.id)).toContain(policy.id);
    expect((await t.call({ method: 'GET', url: '/v1/teams/00000000-0000-4000-8000-000000000000', as: 'read' })).json().code).toBe('TEAM_NOT_FOUND');
  });
});

describe('paging driven by the incident lifecycle', () => {
  it('pages level 0 at once, level 1 after its delay, and acknowledging stops the repeat and tells everyone paged', async () => {
    const ana = await person(t, 'Ana', {}, true);
    const bo = await person(t, 'Bo');
    // Level 1 one second after level 0; the repeat would start over a minute after that, so the
    // acknowledgement below always comes first, however loaded the machine.
    const team = await teamWithPolicy(t, [{ delay_seconds: 60, user_ids: [ana.id] }, { delay_seconds: 1, user_ids: [bo.id] }], 1);
    const opened = Date.now();
    const incident = await openIncident(t, { title: 'Checkout is down', severity: 'P2', team_id: team });
    expect(incident.notification_status).toBe('pending');

    // Level 0: Ana, by webhook and email, at once.
    const [page] = await eventually(() => pagesTo(ana.path).length > 0 && pagesTo(ana.path), 10_000, "Ana's page");
    expect(page).toMatchObject({ incident_id: incident.id, subject: 'P2 Checkout is down', metadata: { event: 'incident.page', escalation: { round: 0, level: 0 } } });
    expect(page!.content).toContain('Ana is paged at escalation level 0');
    const mail = await eventually(() => mailsTo(ana.email)[0], 10_000, "Ana's email");
    expect(mail.raw).toContain('Subject: [P2] Checkout is down');
    const notifications = (await t.call({ method: 'GET', url: `/v1/notifications?incident_id=${incident.id}`, as: 'read' })).json().data;
    expect(notifications.map((n: { priority: string; user_id: string }) => [n.priority, n.user_id])).toEqual([['high', ana.id], ['high', ana.id]]);

    // Level 1: Bo, not before its delay.
    await eventually(() => pagesTo(bo.path).length > 0, 6000, "Bo's page");
    const boPagedAt = hook.received.find((r) => r.path === bo.path)!.at;
    expect(boPagedAt - opened).toBeGreaterThanOrEqual(900);
    expect(pagesTo(bo.path)[0]!.metadata.escalation).toEqual({ run: 0, round: 0, level: 1 });

    // The repeat is scheduled; acknowledging before it comes stops it.
    await eventually(async () => (await steps(t, incident.id)).find((s) => s.round === 1 && s.status === 'scheduled'), 10_000, 'the repeat to be scheduled');
    const ack = await t.call({ method: 'PATCH', url: `/v1/incidents/${incident.id}/status`, payload: { status: 'acknowledged', note: 'on it' }, as: 'write' });
    expect(ack.statusCode).toBe(200);
    expect((await steps(t, incident.id)).map((s) => `${s.round}.${s.level}:${s.status}`)).toEqual(['0.0:paged', '0.1:paged', '1.0:cancelled']);

    // Everyone paged hears who acknowledged it, on every channel they were paged on.
    const told = await eventually(() => pagesTo(ana.path).find((b) => b.metadata.event === 'incident.acknowledged'), 10_000, 'Ana told');
    expect(told.content).toBe('api_key:test writer acknowledged P2 Checkout is down: on it');
    await eventually(() => pagesTo(bo.path).find((b) => b.metadata.event === 'incident.acknowledged'), 10_000, 'Bo told');
    await eventually(() => mailsTo(ana.email).find((m) => m.raw.includes('Acknowledged: Checkout is down')), 10_000, 'Ana told by email');

    // Its job is gone; and even run (as by a worker that fetched it first), it pages nobody.
    expect(await t.service.queue.boss.findJobs(ESCALATION_QUEUE, { data: { incident_id: incident.id, round: 1 } })).toEqual([]);
    await runCancelledStep(t, incident.id, 1, 0);
    expect(pagesTo(ana.path).map((b) => b.metadata.event)).toEqual(['incident.page', 'incident.acknowledged']);
    expect(pagesTo(bo.path).map((b) => b.metadata.event)).toEqual(['incident.page', 'incident.acknowledged']);

    const events = await timeline(t, incident.id);
    const escalation = events.filter((e) => e.type.startsWith('escalation.') || e.type.startsWith('incident.'));
    expect(escalation.map((e) => e.type)).toEqual([
      'incident.created',
      'escalation.paged',
      'escalation.scheduled',
      'escalation.paged',
      'escalation.scheduled',
      'incident.status_changed',
      'escalation.stopped',
      'escalation.outcome_notified',
    ]);
    expect(escalation[6]).toMatchObject({ actor: 'api_key:test writer', data: { reason: 'acknowledged', cancelled_steps: [{ round: 1, level: 0 }] } });
    expect(escalation[7]!.data.notifications).toHaveLength(3);
    await eventually(async () => {
      const events = await timeline(t, incident.id);
      return events.filter((e) => e.type === 'notification.sent').length === 6;
    }, 10_000, 'six deliveries on the timeline');
    await eventually(async () => (await t.call({ method: 'GET', url: `/v1/incidents/${incident.id}`, as: 'read' })).json().notification_status === 'sent', 10_000, 'notification_status sent');
  });

  it('sends nothing more when the incident is resolved before its first escalation', async () => {
    const cy = await person(t, 'Cy');
    const di = await person(t, 'Di');
    // Level 1 a minute later: the resolution always comes first, however loaded the machine.
    const team = await teamWithPolicy(t, [{ delay_seconds: 0, user_ids: [cy.id] }, { delay_seconds: 60, user_ids: [di.id] }]);
    const incident = await openIncident(t, { title: 'Disk full', severity: 'P3', team_id: team });
    await eventually(() => pagesTo(cy.path).length > 0, 10_000, "Cy's page");
    const [, level1] = await steps(t, incident.id);
    expect(level1).toMatchObject({ level: 1, status: 'scheduled' });

    const resolved = await t.call({ method: 'PATCH', url: `/v1/incidents/${incident.id}/status`, payload: { status: 'resolved' }, as: 'write' });
    expect(resolved.statusCode).toBe(200);
    const told = await eventually(() => pagesTo(cy.path).find((b) => b.metadata.event === 'incident.resolved'), 10_000, 'Cy told');
    expect(told.content).toBe('api_key:test writer resolved P3 Disk full');

    await runCancelledStep(t, incident.id, 0, 1);
    expect(pagesTo(di.path)).toEqual([]);
    expect((await steps(t, incident.id)).map((s) => s.status)).toEqual(['paged', 'cancelled']);
    const all = (await t.call({ method: 'GET', url: `/v1/notifications?incident_id=${incident.id}`, as: 'read' })).json().data;
    expect(all.map((n: { metadata: { event: string } }) => n.metadata.event).sort()).toEqual(['incident.page', 'incident.resolved']);
  });

  it('holds a P3 page back during quiet hours and lets a P1 through', async () => {
    const clock = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString().slice(11, 16);
    const eve = await person(t, 'Eve', { timezone: 'UTC', preferences: { quiet_hours: { start: clock(-60), end: clock(60) } } });
    const team = await teamWithPolicy(t, [{ delay_seconds: 0, user_ids: [eve.id] }]);

    const quiet = await openIncident(t, { title: 'Slow reports', severity: 'P3', team_id: team });
    const [held] = (await t.call({ method: 'GET', url: `/v1/notifications?incident_id=${quiet.id}`, as: 'read' })).json().data;
    expect(held).toMatchObject({ status: 'scheduled', user_id: eve.id, priority: 'normal' });
    const releaseAt = new Date(held.scheduled_at).getTime();
    expect(releaseAt).toBeGreaterThan(Date.now() + 55 * 60_000);
    expect(releaseAt).toBeLessThanOrEqual(Date.now() + 60 * 60_000);
    const paged = (await timeline(t, quiet.id)).find((e) => e.type === 'escalation.paged')!;
    expect(paged.data.users).toEqual([{ user_id: eve.id, name: 'Eve', via: 'level', notifications: [{ notification_id: held.id, channel: 'webhook', held_until: held.scheduled_at }] }]);

    const urgent = await openIncident(t, { title: 'Payments down', severity: 'P1', team_id: team });
    const page = await eventually(() => pagesTo(eve.path).find((b) => b.incident_id === urgent.id), 10_000, 'the P1 page');
    expect(page.subject).toBe('P1 Payments down');
    expect(pagesTo(eve.path).some((b) => b.incident_id === quiet.id)).toBe(false);

    // Acknowledged while still held: the held page is cancelled, and Eve, never paged, is not told.
    await t.call({ method: 'PATCH', url: `/v1/incidents/${quiet.id}/status`, payload: { status: 'acknowledged' }, as: 'write' });
    const after = (await t.call({ method: 'GET', url: `/v1/notifications?incident_id=${quiet.id}`, as: 'read' })).json().data;
    expect(after.map((n: { status: string }) => n.status)).toEqual(['cancelled']);
    expect((await t.call({ method: 'GET', url: `/v1/incidents/${quiet.id}`, as: 'read' })).json().notification_status).toBe('none');
  });

  it('does not page a user on a channel they turned off', async () => {
    const slackPath = `/slack/${Date.now()}`;
    const flo = await person(t, 'Flo', { preferences: { channels: { slack: false } } });
    await t.call({
      method: 'PATCH',
      url: `/v1/users/${flo.id}`,
      payload: { contact_methods: [{ type: 'slack', address: `${hook.url}${slackPath}` }, { type: 'webhook', address: `${hook.url}${flo.path}` }] },
      as: 'write',
    });
    const team = await teamWithPolicy(t, [{ delay_seconds: 0, user_ids: [flo.id] }]);
    const incident = await openIncident(t, { title: 'Queue backlog', severity: 'P4', team_id: team });
    const page = await eventually(() => pagesTo(flo.path)[0], 10_000, "Flo's webhook page");
    expect(page.incident_id).toBe(incident.id);
    const notifications = (await t.call({ method: 'GET', url: `/v1/notifications?incident_id=${incident.id}`, as: 'read' })).json().data;
    expect(notifications.map((n: { channel: string; priority: string }) => [n.channel, n.priority])).toEqual([['webhook', 'low']]);
    expect(hook.received.filter((r) => r.path === slackPath)).toEqual([]);
    const paged = (await timeline(t, incident.id)).find((e) => e.type === 'escalation.paged')!;
    expect(paged.data.users).toMatchObject([{ skipped: [{ channel: 'slack', reason: 'the user turned this channel off' }] }]);
  });

  it('pages nobody for an incident of no team, and never opens one for an unknown team', async () => {
    const before = hook.received.length;
    const unknown = await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'Nobody', severity: 'P1', team_id: '00000000-0000-4000-8000-000000000001' }, as: 'write' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json()).toMatchObject({ code: 'VALIDATION_ERROR', details: [{ field: 'body.team_id', message: 'refers to no team' }] });
    const incident = await openIncident(t, { title: 'Nobody', severity: 'P1' });
    expect(incident.notification_status).toBe('none');
    expect((await timeline(t, incident.id)).map((e) => e.type)).toEqual(['incident.created']);
    expect(await steps(t, incident.id)).toEqual([]);
    expect(hook.received.length).toBe(before);
  });

  it('starts the new policy when an open incident moves to another team', async () => {
    const gil = await person(t, 'Gil');
    const hal = await person(t, 'Hal');
    const first = await teamWithPolicy(t, [{ delay_seconds: 0, user_ids: [gil.id] }, { delay_seconds: 600, user_ids: [gil.id] }]);
    const second = await teamWithPolicy(t, [{ delay_seconds: 0, user_ids: [hal.id] }]);
    const incident = await openIncident(t, { title: 'Wrong team', severity: 'P2', team_id: first });
    const moved = await t.call({ method: 'PATCH', url: `/v1/incidents/${incident.id}`, payload: { team_id: second }, as: 'write' });
    expect(moved.statusCode).toBe(200);
    await eventually(() => pagesTo(hal.path).length > 0, 10_000, "Hal's page");
    expect((await steps(t, incident.id)).map((s) => `${s.run}.${s.level}:${s.status}`)).toEqual(['0.0:paged', '0.1:cancelled', '1.0:paged']);
    const stopped = (await timeline(t, incident.id)).find((e) => e.type === 'escalation.stopped')!;
    expect(stopped.data.reason).toBe('reassigned');
  });
});

describe('a worker restart between levels', () => {
  let api: TestApp;
  const workers: Service[] = [];
  const startWorker = async () => {
    const service = await startService({ role: 'worker', config: loadConfig({ DATABASE_URL: api.databaseUrl, ...env }), logger: makeLogger('silent'), databaseUrl: api.databaseUrl });
    workers.push(service);
    return service;
  };
  beforeAll(async () => {
    api = await startTestApp({ role: 'api', env });
  });
  afterAll(async () => {
    for (const worker of workers) await worker.close().catch(() => {});
    await api.close();
  });

  it('neither loses nor doubles the escalation', async () => {
    const first = await startWorker();
    const ivy = await person(api, 'Ivy');
    const jon = await person(api, 'Jon');
    const team = await teamWithPolicy(api, [{ delay_seconds: 0, user_ids: [ivy.id] }, { delay_seconds: 2, user_ids: [jon.id] }]);
    const incident = await openIncident(api, { title: 'Restart me', severity: 'P1', team_id: team });
    await eventually(() => pagesTo(ivy.path).length > 0, 10_000, "Ivy's page");

    // The worker stops while level 1 is still scheduled; two new workers take over at once.
    await first.close();
    const [, level1] = await steps(api, incident.id);
    expect(level1).toMatchObject({ level: 1, status: 'scheduled' });
    // A stray second job for the same step (as a retry after a crash would leave) must not page it again.
    await api.service.queue.boss.send(ESCALATION_QUEUE, { incident_id: incident.id, run: 0, round: 0, level: 1 }, { startAfter: new Date(level1!.due_at) });
    await Promise.all([startWorker(), startWorker()]);

    await eventually(async () => (await timeline(api, incident.id)).some((e) => e.type === 'escalation.exhausted'), 10_000, 'level 1 paged');
    await eventually(() => pagesTo(jon.path).length > 0, 10_000, "Jon's page");
    const jobs = await api.service.queue.boss.findJobs(ESCALATION_QUEUE, { data: { incident_id: incident.id } });
    expect(jobs).toHaveLength(2);
    for (const job of jobs) {
      await eventually(async () => (await api.service.queue.boss.getJobById(ESCALATION_QUEUE, job.id))?.state === 'completed', 10_000, 'both jobs completed');
    }

    const pages = await sql<{ n: string }>`
      select count(*) as n from notifications where incident_id = ${incident.id} and metadata->'escalation'->>'level' = '1'`.execute(api.db);
    expect(Number(pages.rows[0]!.n)).toBe(1);
    expect((await timeline(api, incident.id)).filter((e) => e.type === 'escalation.paged').map((e) => e.data.level)).toEqual([0, 1]);
    expect(pagesTo(jon.path)).toHaveLength(1);
    expect(new Date((await steps(api, incident.id))[1]!.paged_at!).getTime()).toBeGreaterThanOrEqual(new Date(level1!.due_at).getTime());
  });
});

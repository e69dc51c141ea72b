// SPEC section 4: "Concurrent writes that touch one incident (notifications created for it,
// outcomes recorded) never deadlock." Before issue 9, 16 notifications created at once for one
// incident answered 15 or so 500s ("deadlock detected" in refreshIncidentSummaries): each insert
// took KEY SHARE on the incident (the foreign key) and then asked for FOR UPDATE.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHttpReceiver, type HttpReceiver } from './helpers/receivers.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

let t: TestApp;
let hook: HttpReceiver;

beforeAll(async () => {
  hook = await startHttpReceiver();
  hook.respond = async () => {
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
    return { status: 200, body: '{}' };
  };
  t = await startTestApp({
    role: 'all',
    env: { RATE_LIMIT_MAX: '100000', ALLOW_PRIVATE_TARGETS: 'true', CHANNEL_RATE_LIMIT_PER_SECOND: '10000', WORKER_BATCH_SIZE: '5', WORKER_CONCURRENCY: '8' },
  });
}, 60_000);

afterAll(async () => {
  await t?.close();
  await hook?.close();
});

const newIncident = async (title: string): Promise<string> => (await t.call({ method: 'POST', url: '/v1/incidents', payload: { title } })).json().id;
const webhook = (incidentId: string, i: number) => ({ channel: 'webhook', recipient: `${hook.url}/h`, content: `n${i}`, incident_id: incidentId });

/** Runs every request at once and returns the statuses, with the bodies of any 5xx. */
async function together(requests: Parameters<TestApp['call']>[0][]) {
  const responses = await Promise.all(requests.map((request) => t.call(request)));
  return { statuses: responses.map((r) => r.statusCode), errors: responses.filter((r) => r.statusCode >= 500).map((r) => r.body) };
}

describe('writes that touch one incident at once', () => {
  it('16 notifications created at once for one incident are all accepted', async () => {
    const incident = await newIncident('sixteen at once');
    const { statuses, errors } = await together(Array.from({ length: 16 }, (_, i) => ({ method: 'POST' as const, url: '/v1/notifications', payload: webhook(incident, i) })));
    expect(errors).toEqual([]);
    expect(statuses).toEqual(Array(16).fill(201));
    await eventually(async () => (await t.call({ method: 'GET', url: `/v1/incidents/${incident}` })).json().notification_status === 'sent', 20_000, 'all sent');
  }, 60_000);

  it('creates, batches, comments, cancels, retries and a status change, all at once, never fail', async () => {
    const incident = await newIncident('everything at once');
    // Some scheduled notifications to cancel, and a failed one to retry, made beforehand.
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const scheduled = (await t.call({ method: 'POST', url: '/v1/notifications/batch', payload: { notifications: Array.from({ length: 6 }, (_, i) => ({ ...webhook(incident, i), scheduled_at: later })) } })).json().ids as string[];
    const failing = (await t.call({ method: 'POST', url: '/v1/notifications', payload: { ...webhook(incident, 99), recipient: `${hook.url}/gone`, max_retries: 0 } })).json().id as string;
    hook.respond = (request) => ({ status: request.path === '/gone' ? 410 : 200, body: '{}' });
    await eventually(async () => (await t.call({ method: 'GET', url: `/v1/notifications/${failing}` })).json().status === 'failed', 20_000, 'the failing one to fail');

    hook.respond = () => ({ status: 200, body: '{}' }); // the retried one goes through this time
    const requests: Parameters<TestApp['call']>[0][] = [
      ...Array.from({ length: 12 }, (_, i) => ({ method: 'POST' as const, url: '/v1/notifications', payload: webhook(incident, i) })),
      ...Array.from({ length: 3 }, (_, i) => ({ method: 'POST' as const, url: '/v1/notifications/batch', payload: { notifications: [webhook(incident, 100 + i), webhook(incident, 200 + i)] } })),
      ...Array.from({ length: 6 }, (_, i) => ({ method: 'POST' as const, url: `/v1/incidents/${incident}/comments`, payload: { body: `comment ${i}` } })),
      ...scheduled.map((id) => ({ method: 'DELETE' as const, url: `/v1/notifications/${id}` })),
      { method: 'POST', url: `/v1/notifications/${failing}/retry` },
      { method: 'PATCH', url: `/v1/incidents/${incident}/status`, payload: { status: 'acknowledged' } },
      { method: 'PATCH', url: `/v1/incidents/${incident}`, payload: { severity: 'P2' } },
    ];
    const { statuses, errors } = await together(requests);
    expect(errors).toEqual([]);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    const final = await eventually(async () => {
      const incidentNow = (await t.call({ method: 'GET', url: `/v1/incidents/${incident}` })).json();
      return incidentNow.notification_status === 'sent' && incidentNow;
    }, 30_000, 'every notification of the incident sent');
    expect(final.status).toBe('acknowledged');
    expect(final.severity).toBe('P2');
  }, 60_000);

  it('outcomes recorded by many batches at once, while more are created, keep every incident summary right', async () => {
    hook.respond = () => ({ status: 200, body: '{}' });
    const incidents = await Promise.all([1, 2, 3, 4].map((i) => newIncident(`busy ${i}`)));
    // Batches mixing the four incidents, so one recording transaction locks several of them.
    const batches = Array.from({ length: 10 }, (_, b) => ({
      method: 'POST' as const,
      url: '/v1/notifications/batch',
      payload: { notifications: Array.from({ length: 20 }, (_, i) => webhook(incidents[(b + i) % 4]!, i)) },
    }));
    const singles = Array.from({ length: 40 }, (_, i) => ({ method: 'POST' as const, url: '/v1/notifications', payload: webhook(incidents[i % 4]!, i) }));
    const { errors } = await together([...batches, ...singles]);
    expect(errors).toEqual([]);
    for (const incident of incidents) {
      await eventually(async () => (await t.call({ method: 'GET', url: `/v1/incidents/${incident}` })).json().notification_status === 'sent', 30_000, `${incident} sent`);
      const page = (await t.call({ method: 'GET', url: `/v1/incidents/${incident}/notifications?limit=500` })).json();
      expect(page.data).toHaveLength(60);
      expect(page.data.every((n: { status: string; attempts: unknown[] }) => n.status === 'sent' && n.attempts.length === 1)).toBe(true);
    }
  }, 60_000);
});

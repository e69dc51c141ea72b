import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readChanges, settledHorizon, type Change } from '../src/adapters/postgres/change-store.ts';
import { eventually, startHttpReceiver, type HttpReceiver } from './helpers/receivers.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

// SPEC section 7 (issue 11): every change a client can see is appended to the change feed in the
// transaction that makes it, through every path: the API's one-statement incident insert, paging,
// comments and status changes, notifications created, claimed, delivered, cancelled and retried,
// the summary refresh, and deletes. Each incident event carries the incident as GET returns it.

let t: TestApp;
let hook: HttpReceiver;

beforeAll(async () => {
  hook = await startHttpReceiver();
  t = await startTestApp({ role: 'all', env: { ALLOW_PRIVATE_TARGETS: 'true', RETRY_BACKOFF: '50ms', RATE_LIMIT_MAX: '100000' } });
});
afterAll(async () => {
  await t.close();
  await hook.close();
});

let seen = 0;
/** The changes appended since the last call, in id order. */
async function newChanges(): Promise<Change[]> {
  const horizon = await settledHorizon(t.db);
  const changes = await readChanges(t.db, seen, horizon, 10_000);
  seen = horizon;
  return changes;
}

const json = (response: { body: string }) => JSON.parse(response.body) as Record<string, unknown>;

describe('the change feed written by the use cases', () => {
  it('an incident without a team: created in one statement, with its event', async () => {
    await newChanges();
    const created = json(await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'Disk full', severity: 'P2' } }));
    const [event, ...rest] = await newChanges();
    expect(rest).toEqual([]);
    expect(event).toMatchObject({ type: 'incident.created', data: created });
    const got = json(await t.call({ method: 'GET', url: `/v1/incidents/${String(created.id)}` }));
    expect(event!.data).toEqual(got);
  });

  it('status changes and comments are incident.updated with the incident as GET returns it; delete is incident.deleted', async () => {
    const { id } = json(await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'Queue backlog' } }));
    await newChanges();
    await t.call({ method: 'PATCH', url: `/v1/incidents/${String(id)}/status`, payload: { status: 'acknowledged', note: 'looking' } });
    const [ack] = await newChanges();
    expect(ack).toMatchObject({ type: 'incident.updated', data: json(await t.call({ method: 'GET', url: `/v1/incidents/${String(id)}` })) });
    expect((ack!.data as { status: string }).status).toBe('acknowledged');

    await t.call({ method: 'POST', url: `/v1/incidents/${String(id)}/comments`, payload: { body: 'root cause found' } });
    expect((await newChanges()).map((c) => c.type)).toEqual(['incident.updated']);

    await t.call({ method: 'DELETE', url: `/v1/incidents/${String(id)}` });
    expect(await newChanges()).toMatchObject([{ type: 'incident.deleted', data: { id } }]);
  });

  it('a notification of an incident: created, claimed, delivered, each a notification.updated, and the summary as incident.updated', async () => {
    const { id: incidentId } = json(await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'Paged by hand' } }));
    await newChanges();
    const created = json(await t.call({ method: 'POST', url: '/v1/notifications', payload: { channel: 'webhook', recipient: `${hook.url}/x`, content: 'hi', incident_id: incidentId } }));
    const changes: Change[] = [];
    await eventually(async () => {
      changes.push(...(await newChanges()));
      return changes.some((c) => c.type === 'notification.updated' && (c.data as { status: string }).status === 'sent') || undefined;
    }, 15_000, 'the delivery to be recorded');
    // The summary's change commits with the outcome; read whatever else committed meanwhile.
    changes.push(...(await newChanges()));
    const forNotification = changes.filter((c) => c.type === 'notification.updated').map((c) => c.data as { id: string; status: string; incident_id: string });
    expect(forNotification.map((d) => d.status)).toEqual(['queued', 'sending', 'sent']);
    for (const data of forNotification) expect(data).toMatchObject({ id: created.id, incident_id: incidentId, channel: 'webhook' });
    const summaries = changes.filter((c) => c.type === 'incident.updated').map((c) => (c.data as { notification_status: string }).notification_status);
    expect(summaries).toEqual(['pending', 'sent']);
    const last = changes.at(-1)!;
    expect(last.data).toEqual(json(await t.call({ method: 'GET', url: `/v1/incidents/${String(incidentId)}` })));
  });

  it('a batch is one event with items; cancel and retry are events too', async () => {
    await newChanges();
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const batch = json(await t.call({
      method: 'POST',
      url: '/v1/notifications/batch',
      payload: { notifications: [1, 2, 3].map((n) => ({ channel: 'webhook', recipient: `${hook.url}/b${n}`, content: 'later', scheduled_at: later })) },
    }));
    const [event] = await newChanges();
    expect(event!.type).toBe('notification.updated');
    expect((event!.data as { items: { id: string; status: string }[] }).items.map((i) => i.status)).toEqual(['scheduled', 'scheduled', 'scheduled']);
    const ids = batch.ids as string[];
    await t.call({ method: 'DELETE', url: `/v1/notifications/${ids[0]}` });
    expect(await newChanges()).toMatchObject([{ type: 'notification.updated', data: { id: ids[0], status: 'cancelled' } }]);
  });

  it('ids increase in commit order with no duplicates across the whole run', async () => {
    const { rows } = await sql<{ id: string }>`select id::text from changes order by id`.execute(t.db);
    const ids = rows.map((r) => Number(r.id));
    expect(new Set(ids).size).toBe(ids.length);
  });
});

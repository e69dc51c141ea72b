import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTeam, createUser } from './helpers/people.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

async function openIncident(body: Record<string, unknown> = {}) {
  const response = await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'Database down', severity: 'P1', ...body } });
  expect(response.statusCode).toBe(201);
  return response.json();
}

describe('creating and reading incidents', () => {
  it('creates an incident with a Location, an ETag and a timeline entry', async () => {
    const response = await t.call({
      method: 'POST',
      url: '/v1/incidents',
      payload: { title: 'Checkout errors', description: 'HTTP 500 on /pay', severity: 'P2' },
    });
    expect(response.statusCode).toBe(201);
    const incident = response.json();
    expect(incident).toMatchObject({
      title: 'Checkout errors',
      description: 'HTTP 500 on /pay',
      severity: 'P2',
      status: 'open',
      source: 'api',
      notification_status: 'none',
      created_by: 'api_key:test admin',
      acknowledged_at: null,
      resolved_at: null,
    });
    expect(response.headers.location).toBe(`/v1/incidents/${incident.id}`);
    expect(response.headers.etag).toBe('"1"');

    const fetched = await t.call({ method: 'GET', url: `/v1/incidents/${incident.id}`, as: 'read' });
    expect(fetched.statusCode).toBe(200);
    expect(fetched.json()).toEqual(incident);

    const events = await t.call({ method: 'GET', url: `/v1/incidents/${incident.id}/events`, as: 'read' });
    expect(events.json().data.map((e: { type: string }) => e.type)).toEqual(['incident.created']);
  });

  it('defaults severity to P3 and rejects bad fields naming each one', async () => {
    expect((await openIncident({ severity: undefined })).severity).toBe('P3');
    const response = await t.call({
      method: 'POST',
      url: '/v1/incidents',
      payload: { title: 'x'.repeat(201), severity: 'P9', colour: 'red' },
    });
    expect(response.statusCode).toBe(400);
    const body = response.json();
    expect(body.code).toBe('VALIDATION_ERROR');
    expect(body.request_id).toBeTruthy();
    const fields = body.details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['body.title', 'body.severity', 'body.colour']));
  });

  it('answers 404 INCIDENT_NOT_FOUND for an unknown id and 400 for a malformed one', async () => {
    const missing = await t.call({ method: 'GET', url: '/v1/incidents/00000000-0000-4000-8000-000000000000' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('INCIDENT_NOT_FOUND');
    const malformed = await t.call({ method: 'GET', url: '/v1/incidents/nope' });
    expect(malformed.statusCode).toBe(400);
  });

  it('lists with filters and text search', async () => {
    const marker = `zebra${Date.now()}`;
    const a = await openIncident({ title: `Disk ${marker} full`, severity: 'P4' });
    const b = await openIncident({ title: 'Queue backlog', description: `the ${marker} consumer is stuck`, severity: 'P2' });
    await t.call({ method: 'PATCH', url: `/v1/incidents/${b.id}/status`, payload: { status: 'acknowledged' } });

    const found = await t.call({ method: 'GET', url: `/v1/incidents?q=${marker}`, as: 'read' });
    expect(found.json().data.map((i: { id: string }) => i.id).sort()).toEqual([a.id, b.id].sort());

    const acked = await t.call({ method: 'GET', url: `/v1/incidents?q=${marker}&status=acknowledged` });
    expect(acked.json().data.map((i: { id: string }) => i.id)).toEqual([b.id]);

    const p4 = await t.call({ method: 'GET', url: `/v1/incidents?q=${marker}&severity=P4` });
    expect(p4.json().data.map((i: { id: string }) => i.id)).toEqual([a.id]);

    const future = await t.call({ method: 'GET', url: `/v1/incidents?q=${marker}&from=2999-01-01T00:00:00Z` });
    expect(future.json().data).toEqual([]);
    const past = await t.call({ method: 'GET', url: `/v1/incidents?q=${marker}&to=2000-01-01T00:00:00Z` });
    expect(past.json().data).toEqual([]);

    const team = await createTeam(t);
    const c = await openIncident({ title: `team ${marker}`, team_id: team });
    const byTeam = await t.call({ method: 'GET', url: `/v1/incidents?team_id=${team}` });
    expect(byTeam.json().data.map((i: { id: string }) => i.id)).toEqual([c.id]);
  });

  it('rejects bad list parameters with 400', async () => {
    for (const query of ['limit=0', 'limit=501', 'status=closed', 'from=yesterday', 'cursor=garbage', 'unknown=1']) {
      const response = await t.call({ method: 'GET', url: `/v1/incidents?${query}` });
      expect(response.statusCode, query).toBe(400);
      expect(response.json().code).toBe('VALIDATION_ERROR');
    }
  });
});

describe('the status state machine (SPEC section 3)', () => {
  const statuses = ['open', 'acknowledged', 'resolved'] as const;
  const allowed: Record<string, string[]> = { open: ['acknowledged', 'resolved'], acknowledged: ['resolved'], resolved: [] };

  async function incidentIn(status: (typeof statuses)[number]) {
    const incident = await openIncident();
    if (status === 'acknowledged' || status === 'resolved') {
      const path = status === 'acknowledged' ? ['acknowledged'] : ['resolved'];
      for (const s of path) await t.call({ method: 'PATCH', url: `/v1/incidents/${incident.id}/status`, payload: { status: s } });
    }
    return incident.id as string;
  }

  for (const from of statuses) {
    for (const to of statuses) {
      it(`${from} → ${to}`, async () => {
        const id = await incidentIn(from);
        const before = (await t.call({ method: 'GET', url: `/v1/incidents/${id}` })).json();
        const response = await t.call({ method: 'PATCH', url: `/v1/incidents/${id}/status`, payload: { status: to, note: 'on it' } });
        if (from === to) {
          expect(response.statusCode).toBe(200);
          expect(response.json()).toEqual(before); // an idempotent no-op
        } else if (allowed[from]!.includes(to)) {
          expect(response.statusCode).toBe(200);
          const after = response.json();
          expect(after.status).toBe(to);
          if (to === 'acknowledged') expect(after.acknowledged_at).not.toBeNull();
          if (to === 'resolved') expect(after.resolved_at).not.toBeNull();
          const events = (await t.call({ method: 'GET', url: `/v1/incidents/${id}/events` })).json().data;
          expect(events.at(-1)).toMatchObject({ type: 'incident.status_changed', data: { from, to, note: 'on it' } });
        } else {
          expect(response.statusCode).toBe(400);
          expect(response.json()).toMatchObject({
            code: 'INVALID_STATUS_TRANSITION',
            details: { from, to, allowed: allowed[from] },
          });
          expect((await t.call({ method: 'GET', url: `/v1/incidents/${id}` })).json()).toEqual(before);
        }
      });
    }
  }

  it('applies the same rules through PATCH /v1/incidents/:id', async () => {
    const id = await incidentIn('resolved');
    const response = await t.call({ method: 'PATCH', url: `/v1/incidents/${id}`, payload: { status: 'open', title: 'reopen?' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('INVALID_STATUS_TRANSITION');
    // The rejected request changed nothing, not even the title sent beside the status.
    expect((await t.call({ method: 'GET', url: `/v1/incidents/${id}` })).json().title).toBe('Database down');
  });
});

describe('changing, commenting and deleting', () => {
  it('patches fields, records what changed, and bumps the ETag', async () => {
    const incident = await openIncident();
    const assignee = (await createUser(t)).id;
    const response = await t.call({
      method: 'PATCH',
      url: `/v1/incidents/${incident.id}`,
      payload: { title: 'Database degraded', severity: 'P2', assignee_id: assignee },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ title: 'Database degraded', severity: 'P2', assignee_id: assignee, status: 'open' });
    expect(response.headers.etag).toBe('"2"');
    const events = (await t.call({ method: 'GET', url: `/v1/incidents/${incident.id}/events` })).json().data;
    expect(events.at(-1)).toMatchObject({
      type: 'incident.updated',
      data: { changes: { title: 'Database degraded', severity: 'P2', assignee_id: assignee }, before: { title: 'Database down', severity: 'P1', assignee_id: null } },
    });
  });

  it('adds comments to the timeline, oldest first', async () => {
    const incident = await openIncident();
    const first = await t.call({ method: 'POST', url: `/v1/incidents/${incident.id}/comments`, payload: { body: 'looking' }, as: 'write' });
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ type: 'incident.comment', data: { body: 'looking' }, actor: 'api_key:test writer' });
    await t.call({ method: 'POST', url: `/v1/incidents/${incident.id}/comments`, payload: { body: 'found it' } });
    const events = (await t.call({ method: 'GET', url: `/v1/incidents/${incident.id}/events` })).json().data;
    expect(events.map((e: { type: string; data: { body?: string } }) => e.data.body ?? e.type)).toEqual(['incident.created', 'looking', 'found it']);

    const missing = await t.call({ method: 'POST', url: '/v1/incidents/00000000-0000-4000-8000-000000000000/comments', payload: { body: 'x' } });
    expect(missing.statusCode).toBe(404);
    const empty = await t.call({ method: 'POST', url: `/v1/incidents/${incident.id}/comments`, payload: { body: '   ' } });
    expect(empty.statusCode).toBe(400);
  });

  it('deletes (admin only) with its timeline', async () => {
    const incident = await openIncident();
    const forbidden = await t.call({ method: 'DELETE', url: `/v1/incidents/${incident.id}`, as: 'write' });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json().code).toBe('FORBIDDEN');
    const deleted = await t.call({ method: 'DELETE', url: `/v1/incidents/${incident.id}` });
    expect(deleted.statusCode).toBe(204);
    expect((await t.call({ method: 'GET', url: `/v1/incidents/${incident.id}` })).statusCode).toBe(404);
    expect((await t.call({ method: 'GET', url: `/v1/incidents/${incident.id}/events` })).statusCode).toBe(404);
    expect((await t.call({ method: 'DELETE', url: `/v1/incidents/${incident.id}` })).statusCode).toBe(404);
  });
});

describe('ETag, If-None-Match and If-Match', () => {
  it('answers 304 for a current ETag and 412 for a stale one', async () => {
    const incident = await openIncident();
    const url = `/v1/incidents/${incident.id}`;
    const first = await t.call({ method: 'GET', url });
    const etag = first.headers.etag as string;
    expect(etag).toBe('"1"');

    const notModified = await t.call({ method: 'GET', url, headers: { 'if-none-match': etag } });
    expect(notModified.statusCode).toBe(304);
    expect(notModified.body).toBe('');

    const changed = await t.call({ method: 'PATCH', url, headers: { 'if-match': etag }, payload: { title: 'first writer' } });
    expect(changed.statusCode).toBe(200);
    const newTag = changed.headers.etag as string;
    expect(newTag).not.toBe(etag);

    const stale = await t.call({ method: 'PATCH', url, headers: { 'if-match': etag }, payload: { title: 'second writer' } });
    expect(stale.statusCode).toBe(412);
    expect(stale.json().code).toBe('PRECONDITION_FAILED');
    expect((await t.call({ method: 'GET', url })).json().title).toBe('first writer');

    const modified = await t.call({ method: 'GET', url, headers: { 'if-none-match': etag } });
    expect(modified.statusCode).toBe(200);
    expect((await t.call({ method: 'PATCH', url: `${url}/status`, headers: { 'if-match': '"garbage' }, payload: { status: 'resolved' } })).statusCode).toBe(412);
    expect((await t.call({ method: 'PATCH', url: `${url}/status`, headers: { 'if-match': newTag }, payload: { status: 'resolved' } })).statusCode).toBe(200);
  });

  it('lets exactly one of two concurrent writers with the same ETag win', async () => {
    const incident = await openIncident();
    const url = `/v1/incidents/${incident.id}`;
    const results = await Promise.all(
      ['a', 'b', 'c', 'd'].map((title) => t.call({ method: 'PATCH', url, headers: { 'if-match': '"1"' }, payload: { title } })),
    );
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 412, 412, 412]);
  });
});

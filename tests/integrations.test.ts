import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTeam } from './helpers/people.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

// SPEC section 6: integration keys and the PagerDuty Events API v2 (POST /v2/enqueue), case by case.

let t: TestApp;
let routingKey: string;
let integrationId: string;
let teamId: string;

beforeAll(async () => {
  t = await startTestApp({ env: { RATE_LIMIT_MAX: '100000' } });
  teamId = await createTeam(t);
  const created = await t.call({ method: 'POST', url: '/v1/integrations', payload: { type: 'events_v2', name: 'datadog', team_id: teamId } });
  expect(created.statusCode).toBe(201);
  routingKey = created.json().key;
  integrationId = created.json().id;
});
afterAll(async () => {
  await t.close();
});

/** Events v2 senders send no Authorization header, only the routing_key in the body. */
const enqueue = (body: unknown, headers: Record<string, string> = {}) =>
  t.call({ method: 'POST', url: '/v2/enqueue', payload: body as Record<string, unknown>, headers: { 'content-type': 'application/json', ...headers }, as: null });

const trigger = (extra: Record<string, unknown> = {}, payload: Record<string, unknown> = {}) =>
  enqueue({
    routing_key: routingKey,
    event_action: 'trigger',
    payload: { summary: 'CPU load is high on web-1', source: 'web-1.prod', severity: 'critical', ...payload },
    ...extra,
  });

async function incidentsWithKey(dedupKey: string) {
  return t.db.selectFrom('incidents').selectAll().where('dedup_key', '=', dedupKey).orderBy('created_at').execute();
}

const countIncidents = async () => Number((await t.db.selectFrom('incidents').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);

const timeline = async (incidentId: string) =>
  (await t.call({ method: 'GET', url: `/v1/incidents/${incidentId}/events`, as: 'read' })).json().data as { type: string; actor: string; data: Record<string, unknown> }[];

describe('integration keys', () => {
  it('creates an integration with its key and intake URL, lists it without the key, and deletes it', async () => {
    const created = await t.call({ method: 'POST', url: '/v1/integrations', payload: { type: 'alertmanager', name: 'prometheus' } });
    expect(created.statusCode).toBe(201);
    const body = created.json();
    expect(body).toMatchObject({ type: 'alertmanager', name: 'prometheus', team_id: null });
    expect(body.key).toMatch(/^[0-9a-f]{32}$/);
    expect(body.url).toBe(`/v1/integrations/${body.key}/alertmanager`);
    expect(created.headers.location).toBe(`/v1/integrations/${body.id}`);

    const events = await t.call({ method: 'POST', url: '/v1/integrations', payload: { type: 'events_v2', name: 'x' } });
    expect(events.json().url).toBe('/v2/enqueue');
    expect(events.json().key).toHaveLength(32);

    const listed = await t.call({ method: 'GET', url: '/v1/integrations', as: 'read' });
    expect(listed.statusCode).toBe(200);
    const mine = listed.json().data.find((i: { id: string }) => i.id === body.id);
    expect(mine).toMatchObject({ id: body.id, type: 'alertmanager', key_prefix: body.key.slice(0, 8) });
    expect(mine.key).toBeUndefined();
    expect(JSON.stringify(listed.json())).not.toContain(body.key);

    expect((await t.call({ method: 'DELETE', url: `/v1/integrations/${body.id}` })).statusCode).toBe(204);
    const again = await t.call({ method: 'DELETE', url: `/v1/integrations/${body.id}` });
    expect(again.statusCode).toBe(404);
    expect(again.json().code).toBe('INTEGRATION_NOT_FOUND');
    expect((await t.call({ method: 'GET', url: '/v1/integrations', as: 'read' })).json().data.map((i: { id: string }) => i.id)).not.toContain(body.id);
  });

  it('needs admin to create or delete, read to list, and refuses bad bodies in the contract shape', async () => {
    expect((await t.call({ method: 'POST', url: '/v1/integrations', payload: { type: 'events_v2', name: 'w' }, as: 'write' })).statusCode).toBe(403);
    expect((await t.call({ method: 'POST', url: '/v1/integrations', payload: { type: 'events_v2', name: 'w' }, as: null })).statusCode).toBe(401);
    expect((await t.call({ method: 'GET', url: '/v1/integrations', as: null })).statusCode).toBe(401);
    expect((await t.call({ method: 'DELETE', url: `/v1/integrations/${integrationId}`, as: 'write' })).statusCode).toBe(403);
    const bad = await t.call({ method: 'POST', url: '/v1/integrations', payload: { type: 'nagios', name: '' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'VALIDATION_ERROR', request_id: expect.any(String) });
    expect(bad.json().details.map((d: { field: string }) => d.field)).toEqual(expect.arrayContaining(['body.type', 'body.name']));
  });
});

describe('POST /v2/enqueue (PagerDuty Events API v2)', () => {
  it('triggers: 202 in PagerDuty\'s shape, an incident with the mapped severity, the payload kept', async () => {
    const response = await trigger(
      {
        dedup_key: 'cpu-web-1',
        links: [{ href: 'https://grafana.example.com/d/cpu', text: 'CPU dashboard' }],
        images: [{ src: 'https://grafana.example.com/cpu.png', alt: 'CPU graph' }],
        client: 'Datadog',
        client_url: 'https://app.datadoghq.com',
      },
      { component: 'nginx', group: 'web', class: 'cpu', custom_details: { load: 12.5, cores: 4 }, timestamp: '2026-11-22T10:00:00Z' },
    );
    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({ status: 'success', message: 'Event processed', dedup_key: 'cpu-web-1' });

    const [incident, ...others] = await incidentsWithKey('cpu-web-1');
    expect(others).toEqual([]);
    const fetched = (await t.call({ method: 'GET', url: `/v1/incidents/${incident!.id}`, as: 'read' })).json();
    expect(fetched).toMatchObject({
      title: 'CPU load is high on web-1',
      severity: 'P1',
      status: 'open',
      team_id: teamId,
      source: 'events_v2',
      dedup_key: 'cpu-web-1',
      created_by: 'integration:datadog',
      integration_id: integrationId,
      details: {
        summary: 'CPU load is high on web-1',
        source: 'web-1.prod',
        severity: 'critical',
        component: 'nginx',
        group: 'web',
        class: 'cpu',
        custom_details: { load: 12.5, cores: 4 },
        links: [{ href: 'https://grafana.example.com/d/cpu', text: 'CPU dashboard' }],
        images: [{ src: 'https://grafana.example.com/cpu.png', alt: 'CPU graph' }],
        client: 'Datadog',
      },
    });
    const events = await timeline(incident!.id);
    expect(events.map((e) => e.type)).toEqual(['incident.created', 'alert.received']);
    expect(events.every((e) => e.actor === 'integration:datadog')).toBe(true);
    expect(events[1]!.data).toMatchObject({ action: 'trigger', dedup_key: 'cpu-web-1', details: { component: 'nginx', custom_details: { load: 12.5 } } });
  });

  it('maps every severity: critical→P1, error→P2, warning→P3, info→P4', async () => {
    const mapping = { critical: 'P1', error: 'P2', warning: 'P3', info: 'P4' };
    for (const [severity, expected] of Object.entries(mapping)) {
      const key = `severity-${severity}`;
      expect((await trigger({ dedup_key: key }, { severity })).statusCode).toBe(202);
      expect((await incidentsWithKey(key))[0]!.severity).toBe(expected);
    }
  });

  it('folds a trigger for an open incident into it: no second incident, a timeline entry, the latest details', async () => {
    await trigger({ dedup_key: 'disk-db-1' }, { summary: 'Disk 91% on db-1', severity: 'warning' });
    const second = await trigger({ dedup_key: 'disk-db-1' }, { summary: 'Disk 97% on db-1', severity: 'error', custom_details: { used: '97%' } });
    expect(second.statusCode).toBe(202);
    expect(second.json().dedup_key).toBe('disk-db-1');

    const incidents = await incidentsWithKey('disk-db-1');
    expect(incidents).toHaveLength(1);
    const incident = (await t.call({ method: 'GET', url: `/v1/incidents/${incidents[0]!.id}`, as: 'read' }));
    // The title and severity are the first event's, as in PagerDuty; the details are the latest.
    expect(incident.json()).toMatchObject({ title: 'Disk 91% on db-1', severity: 'P3', status: 'open', details: { summary: 'Disk 97% on db-1', custom_details: { used: '97%' } } });
    expect(incident.headers.etag).toBe('"2"');
    const events = await timeline(incidents[0]!.id);
    expect(events.map((e) => e.type)).toEqual(['incident.created', 'alert.received', 'alert.received']);
    expect(events[2]!.data).toMatchObject({ action: 'trigger', details: { summary: 'Disk 97% on db-1' } });
  });

  it('acknowledges and resolves through the state machine; the same key then opens a new incident', async () => {
    await trigger({ dedup_key: 'api-5xx' });
    const [first] = await incidentsWithKey('api-5xx');

    const ack = await enqueue({ routing_key: routingKey, event_action: 'acknowledge', dedup_key: 'api-5xx' });
    expect(ack.statusCode).toBe(202);
    expect(ack.json()).toEqual({ status: 'success', message: 'Event processed', dedup_key: 'api-5xx' });
    let current = (await t.call({ method: 'GET', url: `/v1/incidents/${first!.id}`, as: 'read' })).json();
    expect(current).toMatchObject({ status: 'acknowledged', acknowledged_at: expect.any(String) });

    // A trigger while acknowledged still folds into the same incident, which stays acknowledged.
    await trigger({ dedup_key: 'api-5xx' });
    expect(await incidentsWithKey('api-5xx')).toHaveLength(1);

    const resolve = await enqueue({ routing_key: routingKey, event_action: 'resolve', dedup_key: 'api-5xx' });
    expect(resolve.statusCode).toBe(202);
    current = (await t.call({ method: 'GET', url: `/v1/incidents/${first!.id}`, as: 'read' })).json();
    expect(current).toMatchObject({ status: 'resolved', resolved_at: expect.any(String) });
    const events = await timeline(first!.id);
    expect(events.filter((e) => e.type === 'incident.status_changed').map((e) => [e.data.from, e.data.to, e.actor])).toEqual([
      ['open', 'acknowledged', 'integration:datadog'],
      ['acknowledged', 'resolved', 'integration:datadog'],
    ]);

    // After resolution the same key opens a new incident.
    expect((await trigger({ dedup_key: 'api-5xx' })).statusCode).toBe(202);
    const both = await incidentsWithKey('api-5xx');
    expect(both.map((i) => i.status)).toEqual(['resolved', 'open']);
    expect(both[1]!.id).not.toBe(first!.id);
  });

  it('accepts acknowledge and resolve of an unknown or resolved key, and changes nothing', async () => {
    const before = await countIncidents();
    for (const action of ['acknowledge', 'resolve']) {
      const response = await enqueue({ routing_key: routingKey, event_action: action, dedup_key: 'never-seen' });
      expect(response.statusCode).toBe(202);
      expect(response.json()).toEqual({ status: 'success', message: 'Event processed', dedup_key: 'never-seen' });
    }
    await trigger({ dedup_key: 'short-lived' });
    await enqueue({ routing_key: routingKey, event_action: 'resolve', dedup_key: 'short-lived' });
    const [resolved] = await incidentsWithKey('short-lived');
    const eventsBefore = (await timeline(resolved!.id)).length;
    const late = await enqueue({ routing_key: routingKey, event_action: 'acknowledge', dedup_key: 'short-lived' });
    expect(late.statusCode).toBe(202);
    const after = await incidentsWithKey('short-lived');
    expect(after).toHaveLength(1);
    expect(after[0]!.status).toBe('resolved');
    expect(await timeline(resolved!.id)).toHaveLength(eventsBefore);
    expect(await countIncidents()).toBe(before + 1);
  });

  it('generates a dedup_key for a trigger without one and returns it, so the sender can resolve', async () => {
    const response = await trigger();
    expect(response.statusCode).toBe(202);
    const key = response.json().dedup_key;
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    expect(await incidentsWithKey(key)).toHaveLength(1);
    const another = await trigger();
    expect(another.json().dedup_key).not.toBe(key);

    await enqueue({ routing_key: routingKey, event_action: 'resolve', dedup_key: key });
    expect((await incidentsWithKey(key))[0]!.status).toBe('resolved');
  });

  it('cuts a long summary to a 200-character title and keeps the whole summary', async () => {
    const summary = `${'ü'.repeat(150)} ${'x'.repeat(300)}`;
    await trigger({ dedup_key: 'long-summary' }, { summary });
    const [incident] = await incidentsWithKey('long-summary');
    expect(Array.from(incident!.title)).toHaveLength(200);
    expect(incident!.title.startsWith('ü'.repeat(150))).toBe(true);
    expect(incident!.description).toBe(summary);
  });

  it('refuses malformed events with 400 in PagerDuty\'s shape, one error per problem, and creates nothing', async () => {
    const cases: [unknown, string[]][] = [
      [{ event_action: 'trigger', payload: { summary: 's', source: 'x', severity: 'info' } }, ["'routing_key' is missing or blank"]],
      [{ routing_key: routingKey, payload: { summary: 's', source: 'x', severity: 'info' } }, ["'event_action' is missing or blank"]],
      [{ routing_key: routingKey, event_action: 'snooze', dedup_key: 'k' }, ["'event_action' is invalid (must be one of trigger, acknowledge, resolve)"]],
      [{ routing_key: routingKey, event_action: 'trigger' }, ["'payload' is missing or is not an object"]],
      [
        { routing_key: routingKey, event_action: 'trigger', payload: { summary: '  ', severity: 'fatal' } },
        ["'payload.summary' is missing or blank", "'payload.source' is missing or blank", "'payload.severity' is invalid (must be one of critical, error, warning, info)"],
      ],
      [{ routing_key: routingKey, event_action: 'trigger', payload: { summary: 's', source: 'x' } }, ["'payload.severity' is missing or blank"]],
      [{ routing_key: routingKey, event_action: 'trigger', payload: { summary: 's', source: 'x', severity: 'info', timestamp: 'yesterday' } }, ["'payload.timestamp' is invalid (must be an ISO 8601 date-time)"]],
      [{ routing_key: routingKey, event_action: 'resolve' }, ["'dedup_key' is missing or blank (it is required to resolve)"]],
      [{ routing_key: routingKey, event_action: 'acknowledge', dedup_key: '' }, ["'dedup_key' is missing or blank (it is required to acknowledge)"]],
      [{ routing_key: routingKey, event_action: 'trigger', dedup_key: 'k'.repeat(256), payload: { summary: 's', source: 'x', severity: 'info' } }, ["'dedup_key' is too long (at most 255 characters)"]],
      [{ routing_key: routingKey, event_action: 'trigger', dedup_key: 42, payload: { summary: 's', source: 'x', severity: 'info' } }, ["'dedup_key' must be a string"]],
      [{ routing_key: routingKey, event_action: 'trigger', payload: { summary: 's', source: 'x', severity: 'info' }, links: [{ text: 'no href' }], images: 'x' }, ["'links[0].href' is missing or blank", "'images' must be a list"]],
      [[1, 2, 3], ['Event object must be a JSON object']],
    ];
    const before = await countIncidents();
    for (const [body, expected] of cases) {
      const response = await enqueue(body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json(), JSON.stringify(body)).toEqual({
        status: 'invalid event',
        message: 'Event object is invalid',
        errors: expected,
        code: 'VALIDATION_ERROR',
        request_id: response.headers['x-request-id'],
      });
    }
    const notJson = await enqueue('{"routing_key":');
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json()).toMatchObject({ status: 'invalid event', message: 'Event object is invalid', errors: [expect.any(String)] });
    expect(await countIncidents()).toBe(before);
  });

  it('answers 404 for an unknown or deleted routing_key, and creates nothing', async () => {
    const temporary = (await t.call({ method: 'POST', url: '/v1/integrations', payload: { type: 'events_v2', name: 'temp' } })).json();
    const alertmanager = (await t.call({ method: 'POST', url: '/v1/integrations', payload: { type: 'alertmanager', name: 'am' } })).json();
    expect((await enqueue({ routing_key: temporary.key, event_action: 'trigger', dedup_key: 'temp-1', payload: { summary: 's', source: 'x', severity: 'info' } })).statusCode).toBe(202);
    await t.call({ method: 'DELETE', url: `/v1/integrations/${temporary.id}` });

    const before = await countIncidents();
    for (const key of ['0'.repeat(32), temporary.key, alertmanager.key, 'not-even-hex']) {
      for (const action of ['trigger', 'resolve']) {
        const response = await enqueue({ routing_key: key, event_action: action, dedup_key: 'temp-1', payload: { summary: 's', source: 'x', severity: 'info' } });
        expect(response.statusCode, `${key} ${action}`).toBe(404);
        expect(response.json()).toMatchObject({ status: 'invalid event', code: 'INTEGRATION_NOT_FOUND', errors: [expect.stringContaining('routing_key')] });
      }
    }
    expect(await countIncidents()).toBe(before);
    expect((await incidentsWithKey('temp-1'))[0]!.status).toBe('open');
  });

  it('keeps events of different integrations apart even with the same dedup_key', async () => {
    const other = (await t.call({ method: 'POST', url: '/v1/integrations', payload: { type: 'events_v2', name: 'other' } })).json();
    await trigger({ dedup_key: 'shared-key' });
    await enqueue({ routing_key: other.key, event_action: 'trigger', dedup_key: 'shared-key', payload: { summary: 'other', source: 'x', severity: 'info' } });
    const incidents = await incidentsWithKey('shared-key');
    expect(incidents.map((i) => i.created_by).sort()).toEqual(['integration:datadog', 'integration:other']);
    await enqueue({ routing_key: other.key, event_action: 'resolve', dedup_key: 'shared-key' });
    const after = await incidentsWithKey('shared-key');
    expect(after.find((i) => i.created_by === 'integration:datadog')!.status).toBe('open');
    expect(after.find((i) => i.created_by === 'integration:other')!.status).toBe('resolved');
  });

  it('opens exactly one incident when triggers for a new key race', async () => {
    const responses = await Promise.all(Array.from({ length: 12 }, () => trigger({ dedup_key: 'racing' })));
    expect(responses.map((r) => r.statusCode)).toEqual(Array(12).fill(202));
    const incidents = await incidentsWithKey('racing');
    expect(incidents).toHaveLength(1);
    expect((await timeline(incidents[0]!.id)).filter((e) => e.type === 'alert.received')).toHaveLength(12);
  });

  it('is rate limited per routing_key, not per client address, in PagerDuty\'s throttle shape (SPEC section 2)', async () => {
    const limited = await startTestApp({ env: { INTAKE_RATE_LIMIT_PER_MINUTE: '3', RATE_LIMIT_MAX: '100000' }, shareDatabaseOf: t });
    try {
      // Fresh keys: the counters are shared with the other process, where this file spent routingKey.
      const make = async (name: string) => {
        const created = await limited.call({ method: 'POST', url: '/v1/integrations', payload: { type: 'events_v2', name } });
        expect(created.statusCode, created.body).toBe(201);
        return created.json().key as string;
      };
      const [flooded, other] = [await make('flooded sender'), await make('another sender')];
      const send = (key: string, ip: string) =>
        limited.app.inject({ method: 'POST', url: '/v2/enqueue', remoteAddress: ip, payload: { routing_key: key, event_action: 'resolve', dedup_key: 'nothing' } });
      for (let i = 0; i < 3; i++) expect((await send(flooded, '10.1.1.1')).statusCode).toBe(202);
      const refused = await send(flooded, '10.1.1.1');
      expect(refused.statusCode).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
      expect(refused.json()).toMatchObject({ status: 'throttle event', code: 'RATE_LIMIT_EXCEEDED', errors: [expect.any(String)] });
      // The key is spent from any address; another key behind the same address is not.
      expect((await send(flooded, '10.1.1.2')).statusCode).toBe(429);
      for (let i = 0; i < 3; i++) expect((await send(other, '10.1.1.1')).statusCode).toBe(202);
    } finally {
      await limited.close();
    }
  });

  it('pages the integration\'s team like any new incident (SPEC section 5), and stops on resolve', async () => {
    const user = await t.call({
      method: 'POST',
      url: '/v1/users',
      payload: { name: 'Ada', email: 'ada@example.com', contact_methods: [{ type: 'webhook', address: 'https://hooks.example.com/ada' }] },
    });
    expect(user.statusCode, user.body).toBe(201);
    const policy = await t.call({ method: 'POST', url: '/v1/escalation-policies', payload: { name: 'ops', levels: [{ delay_seconds: 0, user_ids: [user.json().id] }], repeat: 0 } });
    expect(policy.statusCode, policy.body).toBe(201);
    const team = await t.call({ method: 'POST', url: '/v1/teams', payload: { name: 'ops', member_ids: [user.json().id], escalation_policy_id: policy.json().id } });
    expect(team.statusCode, team.body).toBe(201);
    const integration = (await t.call({ method: 'POST', url: '/v1/integrations', payload: { type: 'events_v2', name: 'paging', team_id: team.json().id } })).json();

    await enqueue({ routing_key: integration.key, event_action: 'trigger', dedup_key: 'paged', payload: { summary: 'Checkout down', source: 'shop', severity: 'critical' } });
    const [incident] = await incidentsWithKey('paged');
    expect(incident!.team_id).toBe(team.json().id);
    const notifications = (await t.call({ method: 'GET', url: `/v1/notifications?incident_id=${incident!.id}`, as: 'read' })).json().data;
    expect(notifications.map((n: { channel: string; recipient: string }) => [n.channel, n.recipient])).toEqual([['webhook', 'https://hooks.example.com/ada']]);
    expect((await timeline(incident!.id)).map((e) => e.type)).toContain('escalation.paged');

    // The resolve goes through updateIncident too, so paging reacts to it (whatever it does then).
    await enqueue({ routing_key: integration.key, event_action: 'resolve', dedup_key: 'paged' });
    const types = (await timeline(incident!.id)).map((e) => e.type);
    const resolvedAt = types.indexOf('incident.status_changed');
    expect(resolvedAt).toBeGreaterThan(0);
    expect(types.slice(resolvedAt + 1).some((type) => type.startsWith('escalation.'))).toBe(true);
  });

  it('is in the OpenAPI document, with PagerDuty\'s bodies', async () => {
    const document = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const enqueueOp = document.paths['/v2/enqueue'].post;
    expect(Object.keys(enqueueOp.responses)).toEqual(expect.arrayContaining(['202', '400', '404', '429']));
    expect(enqueueOp.requestBody.content['application/json'].schema.properties).toHaveProperty('routing_key');
    for (const path of ['/v1/integrations', '/v1/integrations/{id}', '/v1/integrations/{key}/alertmanager', '/v1/heartbeats', '/v1/heartbeats/{key}/ping']) {
      expect(document.paths, path).toHaveProperty([path]);
    }
  });
});

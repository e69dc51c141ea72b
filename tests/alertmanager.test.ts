import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './helpers/receivers.ts';
import { requiredTool } from './helpers/required-tool.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';
import { freePort } from '../src/adapters/free-port.ts';

// SPEC section 6: the Prometheus Alertmanager webhook (version 4). First payloads posted directly,
// case by case; then a real Alertmanager (Debian's prometheus-alertmanager, which .ci/run
// installs) driving incidents open and closed through both of its routes: webhook_configs to
// /v1/integrations/:key/alertmanager and pagerduty_configs to /v2/enqueue.

let t: TestApp;
let key: string;
let integrationId: string;

beforeAll(async () => {
  t = await startTestApp({ env: { RATE_LIMIT_MAX: '100000' } });
  const created = await t.call({ method: 'POST', url: '/v1/integrations', payload: { type: 'alertmanager', name: 'prometheus' } });
  expect(created.statusCode).toBe(201);
  key = created.json().key;
  integrationId = created.json().id;
});
afterAll(async () => {
  await t.close();
});

interface AlertInput {
  status?: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A payload as Alertmanager 0.25 sends it. */
function payload(groupKey: string, status: 'firing' | 'resolved', alerts: AlertInput[], extra: Record<string, unknown> = {}) {
  const groupLabels = { alertname: alerts[0]!.labels.alertname! };
  return {
    receiver: 'tocsin',
    status,
    alerts: alerts.map((alert, index) => ({
      status: alert.status ?? status,
      labels: alert.labels,
      annotations: alert.annotations ?? {},
      startsAt: '2026-11-22T10:00:00.000Z',
      endsAt: status === 'resolved' ? '2026-11-22T10:05:00.000Z' : '0001-01-01T00:00:00Z',
      generatorURL: `http://prometheus.example.com/graph?g0.expr=up${index}`,
      fingerprint: `f${index}`,
    })),
    groupLabels,
    commonLabels: groupLabels,
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example.com',
    version: '4',
    groupKey,
    truncatedAlerts: 0,
    ...extra,
  };
}

const post = (body: unknown, withKey = key) =>
  t.call({ method: 'POST', url: `/v1/integrations/${withKey}/alertmanager`, payload: body as Record<string, unknown>, as: null });

const incidentsWithKey = (dedupKey: string) =>
  t.db.selectFrom('incidents').selectAll().where('dedup_key', '=', dedupKey).orderBy('created_at').execute();

const countIncidents = async () => Number((await t.db.selectFrom('incidents').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);

const getIncident = async (id: string) => (await t.call({ method: 'GET', url: `/v1/incidents/${id}`, as: 'read' })).json();
const timeline = async (id: string) =>
  (await t.call({ method: 'GET', url: `/v1/incidents/${id}/events`, as: 'read' })).json().data as { type: string; actor: string; data: Record<string, unknown> }[];

describe('Alertmanager webhook payloads', () => {
  it('opens one incident per groupKey with the labels, annotations and generatorURL kept', async () => {
    const groupKey = '{}:{alertname="HighLatency"}';
    const response = await post(payload(groupKey, 'firing', [
      { labels: { alertname: 'HighLatency', instance: 'api-1', severity: 'warning' }, annotations: { summary: 'p99 latency above 2s on api-1', description: 'The p99 has been above 2s for 10m.' } },
    ], { commonAnnotations: { summary: 'p99 latency above 2s on api-1', description: 'The p99 has been above 2s for 10m.' } }));
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ outcome: 'created', dedup_key: groupKey });

    const incident = await getIncident(response.json().incident_id);
    expect(incident).toMatchObject({
      title: 'p99 latency above 2s on api-1',
      description: 'The p99 has been above 2s for 10m.',
      severity: 'P3',
      status: 'open',
      source: 'alertmanager',
      dedup_key: groupKey,
      created_by: 'integration:prometheus',
      integration_id: integrationId,
      details: {
        status: 'firing',
        receiver: 'tocsin',
        groupKey,
        externalURL: 'http://alertmanager.example.com',
        alerts: [
          {
            status: 'firing',
            labels: { alertname: 'HighLatency', instance: 'api-1', severity: 'warning' },
            annotations: { summary: 'p99 latency above 2s on api-1' },
            generatorURL: 'http://prometheus.example.com/graph?g0.expr=up0',
          },
        ],
      },
    });
    const events = await timeline(incident.id);
    expect(events.map((e) => e.type)).toEqual(['incident.created', 'alert.received']);
    expect(events[1]!.data).toMatchObject({ action: 'trigger', dedup_key: groupKey, details: { alerts: [{ labels: { instance: 'api-1' } }] } });
  });

  it('updates the same incident while the group fires, resolves it, and opens a new one when it fires again', async () => {
    const groupKey = '{}:{alertname="DiskFull"}';
    const first = await post(payload(groupKey, 'firing', [{ labels: { alertname: 'DiskFull', instance: 'db-1', severity: 'warning' } }]));
    expect(first.json().outcome).toBe('created');
    const id = first.json().incident_id;
    // The group gets a second, critical alert.
    const second = await post(payload(groupKey, 'firing', [
      { labels: { alertname: 'DiskFull', instance: 'db-1', severity: 'warning' } },
      { labels: { alertname: 'DiskFull', instance: 'db-2', severity: 'critical' } },
    ]));
    expect(second.json()).toEqual({ outcome: 'updated', incident_id: id, dedup_key: groupKey });
    expect(await incidentsWithKey(groupKey)).toHaveLength(1);
    expect((await getIncident(id)).details.alerts).toHaveLength(2);

    const resolved = await post(payload(groupKey, 'resolved', [
      { labels: { alertname: 'DiskFull', instance: 'db-1', severity: 'warning' } },
      { labels: { alertname: 'DiskFull', instance: 'db-2', severity: 'critical' } },
    ]));
    expect(resolved.json()).toEqual({ outcome: 'resolved', incident_id: id, dedup_key: groupKey });
    expect(await getIncident(id)).toMatchObject({ status: 'resolved', details: { status: 'firing' } });
    const types = (await timeline(id)).map((e) => e.type);
    expect(types).toEqual(['incident.created', 'alert.received', 'alert.received', 'alert.received', 'incident.status_changed']);

    // Alertmanager repeats a resolved notification: accepted, nothing changes.
    const repeated = await post(payload(groupKey, 'resolved', [{ labels: { alertname: 'DiskFull', instance: 'db-1' } }]));
    expect(repeated.statusCode).toBe(200);
    expect(repeated.json()).toEqual({ outcome: 'ignored', incident_id: null, dedup_key: groupKey });

    const again = await post(payload(groupKey, 'firing', [{ labels: { alertname: 'DiskFull', instance: 'db-3', severity: 'critical' } }]));
    expect(again.json().outcome).toBe('created');
    expect(again.json().incident_id).not.toBe(id);
    expect((await incidentsWithKey(groupKey)).map((i) => [i.status, i.severity])).toEqual([['resolved', 'P3'], ['open', 'P1']]);
  });

  it('takes the most urgent firing alert for the severity and names the group when there is no summary', async () => {
    const groupKey = '{}/{env="prod"}:{alertname="ErrorRate", service="checkout"}';
    const response = await post(payload(groupKey, 'firing', [
      { labels: { alertname: 'ErrorRate', service: 'checkout', severity: 'info' } },
      { labels: { alertname: 'ErrorRate', service: 'checkout', severity: 'error' } },
      { status: 'resolved', labels: { alertname: 'ErrorRate', service: 'checkout', severity: 'critical' } },
    ], { groupLabels: { alertname: 'ErrorRate', service: 'checkout' } }));
    const incident = await getIncident(response.json().incident_id);
    expect(incident).toMatchObject({ title: 'ErrorRate (checkout)', severity: 'P2', description: null });
  });

  it('keeps separate groups apart, and hashes a groupKey too long to be a dedup_key', async () => {
    const a = await post(payload('{}:{alertname="A"}', 'firing', [{ labels: { alertname: 'A' } }]));
    const b = await post(payload('{}:{alertname="B"}', 'firing', [{ labels: { alertname: 'B' } }]));
    expect(a.json().incident_id).not.toBe(b.json().incident_id);

    const longKey = `{}:{alertname="Long", instance="${'x'.repeat(400)}"}`;
    const long = await post(payload(longKey, 'firing', [{ labels: { alertname: 'Long' } }]));
    expect(long.statusCode).toBe(200);
    expect(long.json().dedup_key).toMatch(/^sha256:[0-9a-f]{64}$/);
    const incident = await getIncident(long.json().incident_id);
    expect(incident.details.groupKey).toBe(longKey);
    expect((await post(payload(longKey, 'resolved', [{ labels: { alertname: 'Long' } }]))).json().outcome).toBe('resolved');
  });

  it('answers 404 for an unknown, deleted or wrong-type key, and creates nothing', async () => {
    const events = (await t.call({ method: 'POST', url: '/v1/integrations', payload: { type: 'events_v2', name: 'pd' } })).json();
    const doomed = (await t.call({ method: 'POST', url: '/v1/integrations', payload: { type: 'alertmanager', name: 'doomed' } })).json();
    await t.call({ method: 'DELETE', url: `/v1/integrations/${doomed.id}` });
    const before = await countIncidents();
    for (const bad of ['f'.repeat(32), events.key, doomed.key, 'x']) {
      const response = await post(payload('{}:{alertname="Nope"}', 'firing', [{ labels: { alertname: 'Nope' } }]), bad);
      expect(response.statusCode, bad).toBe(404);
      expect(response.json()).toMatchObject({ code: 'INTEGRATION_NOT_FOUND', request_id: response.headers['x-request-id'] });
    }
    expect(await countIncidents()).toBe(before);
  });

  it('refuses a malformed payload with 400 VALIDATION_ERROR naming the fields, and creates nothing', async () => {
    const before = await countIncidents();
    const cases: [unknown, string[]][] = [
      [{ status: 'firing', alerts: [] }, ['body.groupKey']],
      [{ groupKey: 'g', status: 'burning', alerts: [] }, ['body.status']],
      [{ groupKey: 'g', status: 'firing', alerts: [{ status: 'firing', labels: { a: { nested: true } } }] }, ['body.alerts.0.labels.a']],
      [{ groupKey: 'g', status: 'firing' }, ['body.alerts']],
    ];
    for (const [body, fields] of cases) {
      const response = await post(body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json().code).toBe('VALIDATION_ERROR');
      expect(response.json().details.map((d: { field: string }) => d.field)).toEqual(expect.arrayContaining(fields));
    }
    const text = await t.call({ method: 'POST', url: `/v1/integrations/${key}/alertmanager`, payload: 'hello', headers: { 'content-type': 'text/plain' }, as: null });
    expect(text.statusCode).toBe(415);
    expect(await countIncidents()).toBe(before);
  });
});

// ---------------------------------------------------------------------------------------------
// A real Alertmanager

const alertmanager = requiredTool('Prometheus Alertmanager', {
  paths: ['/usr/bin/prometheus-alertmanager', '/usr/local/bin/alertmanager', '/usr/bin/alertmanager'],
  install: 'apt-get install prometheus-alertmanager; .ci/run does it',
});

describe.skipIf(alertmanager.skip)(
  `a real Prometheus Alertmanager${alertmanager.label}`,
  () => {
    let child: ChildProcess | undefined;
    let dir: string;
    let amUrl: string;
    let output = '';
    let webhookKey: string;
    let routingKey: string;

    beforeAll(async () => {
      const binary = alertmanager.assertPresent();
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const tocsin = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
      webhookKey = (await t.call({ method: 'POST', url: '/v1/integrations', payload: { type: 'alertmanager', name: 'am-webhook' } })).json().key;
      routingKey = (await t.call({ method: 'POST', url: '/v1/integrations', payload: { type: 'events_v2', name: 'am-pagerduty' } })).json().key;

      dir = await mkdtemp(path.join(tmpdir(), 'tocsin-alertmanager-'));
      // resolve_timeout is long: alerts end only when the test says so (endsAt), never by timing out.
      const config = `
global:
  resolve_timeout: 5m
route:
  receiver: tocsin-webhook
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - receiver: tocsin-pagerduty
      matchers: ['route="pagerduty"']
receivers:
  - name: tocsin-webhook
    webhook_configs:
      - url: '${tocsin}/v1/integrations/${webhookKey}/alertmanager'
        send_resolved: true
  - name: tocsin-pagerduty
    pagerduty_configs:
      - routing_key: '${routingKey}'
        url: '${tocsin}/v2/enqueue'
        send_resolved: true
        severity: critical
        description: 'Payment errors above 5%'
`;
      await writeFile(path.join(dir, 'alertmanager.yml'), config);
      const port = await freePort();
      amUrl = `http://127.0.0.1:${port}`;
      child = spawn(binary, [
        `--config.file=${path.join(dir, 'alertmanager.yml')}`,
        `--storage.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
        '--log.level=debug',
      ], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      await eventually(async () => (await fetch(`${amUrl}/-/ready`)).ok, 20_000, `Alertmanager to be ready; its output:\n${output}`);
    });

    afterAll(async () => {
      if (child && child.exitCode === null) {
        const exited = new Promise((resolve) => child!.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child!.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    async function postAlerts(alerts: { labels: Record<string, string>; annotations?: Record<string, string>; endsAt?: string }[]) {
      const startsAt = new Date(Date.now() - 60_000).toISOString();
      const response = await fetch(`${amUrl}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts.map((alert) => ({ startsAt, generatorURL: 'http://prometheus.example.com/graph', annotations: {}, ...alert }))),
      });
      expect(response.status, await response.text()).toBe(200);
    }

    const byIntegration = async (name: string) =>
      t.db.selectFrom('incidents').selectAll().where('created_by', '=', `integration:${name}`).orderBy('created_at').execute();

    it('opens incidents through webhook_configs and pagerduty_configs, then resolves them when the alerts end', async () => {
      const webhookAlert = {
        labels: { alertname: 'QueueBacklog', severity: 'critical', queue: 'emails' },
        annotations: { summary: 'Email queue backlog above 10k', description: 'Consumers are down.' },
      };
      const pagerdutyAlert = { labels: { alertname: 'PaymentErrors', route: 'pagerduty', service: 'payments' } };
      await postAlerts([webhookAlert, pagerdutyAlert]);

      const [viaWebhook] = await eventually(async () => {
        const rows = await byIntegration('am-webhook');
        return rows.length > 0 ? rows : undefined;
      }, 20_000, `an incident from Alertmanager's webhook; Alertmanager said:\n${output.slice(-3000)}`);
      expect(viaWebhook).toMatchObject({
        title: 'Email queue backlog above 10k',
        description: 'Consumers are down.',
        severity: 'P1',
        status: 'open',
        source: 'alertmanager',
      });
      expect(viaWebhook!.dedup_key).toContain('QueueBacklog');
      expect(viaWebhook!.details).toMatchObject({
        status: 'firing',
        receiver: 'tocsin-webhook',
        alerts: [{ labels: { alertname: 'QueueBacklog', queue: 'emails' }, generatorURL: 'http://prometheus.example.com/graph' }],
      });

      const [viaPagerduty] = await eventually(async () => {
        const rows = await byIntegration('am-pagerduty');
        return rows.length > 0 ? rows : undefined;
      }, 20_000, `an incident from Alertmanager's PagerDuty client; Alertmanager said:\n${output.slice(-3000)}`);
      // Alertmanager's PagerDuty client: dedup_key is a hash of the group key, severity as configured.
      expect(viaPagerduty).toMatchObject({ title: 'Payment errors above 5%', severity: 'P1', status: 'open', source: 'events_v2' });
      expect(viaPagerduty!.dedup_key).toMatch(/^[0-9a-f]{64}$/);
      expect(viaPagerduty!.details).toMatchObject({ event_action: 'trigger', severity: 'critical', client: 'Alertmanager' });

      // The alerts end: Alertmanager sends resolved notifications through both routes.
      const endsAt = new Date().toISOString();
      await postAlerts([{ ...webhookAlert, endsAt }, { ...pagerdutyAlert, endsAt }]);
      await eventually(async () => {
        const [webhook] = await byIntegration('am-webhook');
        const [pagerduty] = await byIntegration('am-pagerduty');
        return webhook?.status === 'resolved' && pagerduty?.status === 'resolved';
      }, 20_000, `both incidents to be resolved; Alertmanager said:\n${output.slice(-3000)}`);

      // One incident per route, each opened once and resolved by its integration.
      expect(await byIntegration('am-webhook')).toHaveLength(1);
      expect(await byIntegration('am-pagerduty')).toHaveLength(1);
      for (const incident of [viaWebhook!, viaPagerduty!]) {
        const changes = (await timeline(incident.id)).filter((e) => e.type === 'incident.status_changed');
        expect(changes.map((e) => [e.data.to, e.actor])).toEqual([['resolved', incident.created_by]]);
      }
    });
  },
);

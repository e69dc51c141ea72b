// SPEC section 2: logs never hold a secret. A run that uses every kind of secret a request can
// carry (Bearer keys, the bootstrap key, cookies, intake keys in paths and bodies, tokens and
// tickets in query strings, action-link paths, passwords in bodies), then a grep of its logs.
import { Writable } from 'node:stream';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactUrl, makeLogger } from '../src/logger.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

const lines: string[] = [];
const capture = new Writable({
  write(chunk: Buffer, _encoding, callback) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    callback();
  },
});

const ADMIN_API_KEY = 'bootstrap-admin-secret-7f3a9c1e';
let t: TestApp;
beforeAll(async () => {
  // debug: every request is logged twice (incoming, completed), errors with their messages.
  t = await startTestApp({ env: { ADMIN_API_KEY, RATE_LIMIT_MAX: '100000' }, logger: makeLogger('debug', capture) });
});
afterAll(async () => {
  await t?.close();
});

describe('log redaction', () => {
  it('redacts path segments after /integrations/, /heartbeats/ and /a/, and secret-looking query parameters', () => {
    expect(redactUrl('/v1/integrations/abc/alertmanager')).toBe('/v1/integrations/[redacted]/alertmanager');
    expect(redactUrl('/v1/heartbeats/abc/ping?x=1')).toBe('/v1/heartbeats/[redacted]/ping?x=1');
    expect(redactUrl('/a/tok123/ack')).toBe('/a/[redacted]/ack');
    expect(redactUrl('/v1/incidents?status=open&token=t1&ticket=t2&api_key=k&Session=s&limit=5')).toBe(
      '/v1/incidents?status=open&token=[redacted]&ticket=[redacted]&api_key=[redacted]&Session=[redacted]&limit=5',
    );
    expect(redactUrl('/setup#token=abc')).toBe('/setup#[redacted]');
    expect(redactUrl('/v1/incidents')).toBe('/v1/incidents');
    expect(redactUrl('/v1/integrations')).toBe('/v1/integrations');
  });

  it('keeps every secret of a busy run out of the logs', async () => {
    const created = (await t.call({ method: 'POST', url: '/v1/api-keys', payload: { name: 'a tool', scopes: ['write'] } })).json();
    const apiKey: string = created.key;
    const alertmanager = (await t.call({ method: 'POST', url: '/v1/integrations', payload: { type: 'alertmanager', name: 'am' } })).json();
    const eventsV2 = (await t.call({ method: 'POST', url: '/v1/integrations', payload: { type: 'events_v2', name: 'pd' } })).json();
    const heartbeat = (await t.call({ method: 'POST', url: '/v1/heartbeats', payload: { name: 'cron', interval_seconds: 3600 } })).json();
    const secrets = {
      apiKey,
      adminApiKey: ADMIN_API_KEY,
      testKeys: t.keys.admin,
      wrongKey: 'tsn_wrong-guess-4d2f8b',
      alertmanagerKey: alertmanager.key as string,
      routingKey: eventsV2.key as string,
      heartbeatKey: heartbeat.key as string,
      cookie: 'cookie-secret-91ab',
      actionToken: 'action-token-5c7e',
      queryToken: 'query-token-0f1e',
      queryTicket: 'query-ticket-8d2c',
      password: 'hunter2-password-66',
    };
    for (const value of Object.values(secrets)) expect(value.length).toBeGreaterThan(8);

    const plain = (options: InjectOptions) => t.app.inject(options);
    const responses = [
      await t.call({ method: 'GET', url: '/v1/incidents', headers: { authorization: `Bearer ${apiKey}`, cookie: `tocsin_session=${secrets.cookie}` }, as: null }),
      await t.call({ method: 'GET', url: '/v1/incidents', headers: { authorization: `Bearer ${ADMIN_API_KEY}` }, as: null }),
      await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'x' }, headers: { authorization: `Bearer ${secrets.wrongKey}` }, as: null }),
      await plain({ method: 'POST', url: `/v1/integrations/${secrets.alertmanagerKey}/alertmanager`, payload: { groupKey: 'g', status: 'firing', alerts: [{ status: 'firing', labels: { alertname: 'A' } }] } }),
      await plain({ method: 'POST', url: `/v1/integrations/${secrets.alertmanagerKey}x/alertmanager`, payload: { groupKey: 'g', status: 'firing', alerts: [] } }),
      await plain({ method: 'POST', url: `/v1/integrations/${secrets.alertmanagerKey}/alertmanagers`, payload: {} }),
      await plain({ method: 'POST', url: '/v2/enqueue', payload: { routing_key: secrets.routingKey, event_action: 'trigger', payload: { summary: 's', source: 'x', severity: 'info' } } }),
      await plain({ method: 'POST', url: '/v2/enqueue', payload: { routing_key: `${secrets.routingKey}x`, event_action: 'resolve', dedup_key: 'd' } }),
      await plain({ method: 'GET', url: `/v1/heartbeats/${secrets.heartbeatKey}/ping?token=${secrets.queryToken}` }),
      await plain({ method: 'POST', url: `/v1/heartbeats/${secrets.heartbeatKey}/ping`, payload: `password=${secrets.password}`, headers: { 'content-type': 'text/plain' } }),
      await plain({ method: 'GET', url: `/v1/heartbeats/${secrets.heartbeatKey}/pong` }),
      await plain({ method: 'GET', url: `/a/${secrets.actionToken}` }),
      await plain({ method: 'POST', url: `/a/${secrets.actionToken}/acknowledge` }),
      await t.call({ method: 'GET', url: `/v1/incidents?ticket=${secrets.queryTicket}&token=${secrets.queryToken}` }),
      await t.call({ method: 'POST', url: '/v1/users', payload: { name: 'Ann', email: 'ann@example.com', password: secrets.password } }),
      await t.call({ method: 'POST', url: '/v1/incidents', payload: `{"title": "broken", "password": "${secrets.password}"` , headers: { 'content-type': 'application/json' } }),
    ];
    // The run did what it says: keys worked where they should and failed where they should.
    expect(responses.map((r) => r.statusCode)).toEqual([200, 200, 401, 200, 404, 404, 202, 404, 200, 200, 404, 404, 404, 400, 400, 400]);

    const log = lines.join('\n');
    for (const [name, value] of Object.entries(secrets)) expect(log.includes(value), `${name} is in the logs`).toBe(false);
    // And the logs are there to be read: each request was logged, with the secret parts marked.
    const requests = lines.map((line) => JSON.parse(line)).filter((entry) => entry.req);
    expect(requests.length).toBeGreaterThanOrEqual(responses.length);
    expect(requests.map((entry) => entry.req.url)).toEqual(expect.arrayContaining([
      '/v1/integrations/[redacted]/alertmanager',
      '/v1/heartbeats/[redacted]/ping?token=[redacted]',
      '/a/[redacted]',
      '/v1/incidents?ticket=[redacted]&token=[redacted]',
    ]));
    expect(requests.map((entry) => entry.req.route)).toContain('/v1/integrations/:key/alertmanager');
    expect(log).toContain('no route GET /v1/heartbeats/[redacted]/pong');
    expect(log).not.toMatch(/authorization|cookie/i);
  });

  it('keeps passwords, session cookies and setup tokens out of the logs (SPEC section 10)', async () => {
    const user = (await t.call({ method: 'POST', url: '/v1/users', payload: { name: 'Bo', email: 'bo-logs@example.com' } })).json();
    const link = (await t.call({ method: 'POST', url: `/v1/users/${user.id}/invite` })).json().url as string;
    const token = new URL(link).hash.replace('#token=', '');
    const password = 'log-me-not-password-42';
    const setup = await t.app.inject({ method: 'POST', url: '/v1/setup', payload: { token, password } });
    expect(setup.statusCode).toBe(201);
    const session = setup.cookies.find((c) => c.name === 'tocsin_session')!.value;
    expect((await t.app.inject({ method: 'POST', url: '/v1/sessions', payload: { email: 'bo-logs@example.com', password: `${password}x` } })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/v1/me', headers: { cookie: `tocsin_session=${session}` } })).statusCode).toBe(200);
    const log = lines.join('\n');
    for (const secret of [token, password, session]) expect(log.includes(secret)).toBe(false);
  });
});

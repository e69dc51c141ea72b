import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twilioSignature } from '../src/adapters/http/routes/page-action-routes.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

// SPEC section 2 for the routes of section 10: no body, however malformed, gets a 500; the JSON
// routes refuse in the error shape, the pages of action links in HTML; every route is in the
// OpenAPI document.

const PUBLIC_URL = 'http://tocsin.test';
let t: TestApp;
let userId: string;

beforeAll(async () => {
  t = await startTestApp({ env: { PUBLIC_URL, RATE_LIMIT_MAX: '1000000', SMS_AUTH_TOKEN: 'token' } });
  userId = (await t.call({ method: 'POST', url: '/v1/users', payload: { name: 'Base', email: 'base@example.com' } })).json().id;
});
afterAll(async () => {
  await t?.close();
});

const json = fc.jsonValue({ maxDepth: 3 });
/** Bodies near the right shape (so they reach the use case), and anything at all. */
const credentials = fc.oneof(
  fc.record({ email: fc.oneof(fc.emailAddress(), fc.string()), password: fc.string({ maxLength: 40 }) }),
  fc.record({ token: fc.string({ maxLength: 300 }), password: fc.string({ minLength: 10, maxLength: 40 }) }, { requiredKeys: [] }),
  json,
);

function expectJsonRefusal(response: LightMyRequestResponse, what: string) {
  expect(response.statusCode, `${what} → ${response.body.slice(0, 200)}`).toBeLessThan(500);
  if (response.statusCode >= 400) expect(Object.keys(response.json()), what).toEqual(expect.arrayContaining(['code', 'message', 'request_id']));
}

describe('bad input on the sign-in and page routes', () => {
  it('answers any body of POST /v1/sessions, POST /v1/setup and the invite with a 4xx in the error shape, or success', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/v1/sessions', '/v1/setup', `/v1/users/${userId}/invite`), credentials, async (url, body) => {
        const response = await t.app.inject({
          method: 'POST', url, payload: JSON.stringify(body), remoteAddress: `10.9.${++n % 250}.1`,
          headers: { 'content-type': 'application/json', ...(url.includes('invite') ? { authorization: `Bearer ${t.keys.admin}` } : {}) },
        });
        expectJsonRefusal(response, `${url} ${JSON.stringify(body).slice(0, 100)}`);
        if (url !== `/v1/users/${userId}/invite`) expect(response.statusCode).not.toBe(201);
      }),
      { numRuns: 60 },
    );
  });

  it('answers any form posted to an action link or to the inbound SMS route without a 500, changing nothing', async () => {
    const form = fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ maxLength: 40 }), { maxKeys: 4 });
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 120 }), form, fc.boolean(), async (token, fields, sign) => {
        const payload = new URLSearchParams(fields).toString();
        const headers = { 'content-type': 'application/x-www-form-urlencoded' };
        const link = await t.app.inject({ method: 'POST', url: `/a/${encodeURIComponent(token)}`, payload, headers });
        expect(link.statusCode, `/a/${token} ${payload}`).toBeGreaterThanOrEqual(400);
        expect(link.statusCode).toBeLessThan(500);
        expect(link.headers['content-type'], `/a/${token}`).toMatch(/^text\/html/);
        const parsed = Object.fromEntries(new URLSearchParams(payload));
        const signature = sign ? twilioSignature('token', `${PUBLIC_URL}/v1/inbound/sms`, parsed) : 'bad';
        const reply = await t.app.inject({ method: 'POST', url: '/v1/inbound/sms', payload, headers: { ...headers, 'x-twilio-signature': signature } });
        expect(reply.statusCode, `sms ${payload}`).toBeLessThan(500);
        if (reply.statusCode === 200) expect(reply.body).toContain('reply with the code');
        else expectJsonRefusal(reply, `sms ${payload}`);
      }),
      { numRuns: 60 },
    );
  });

  it('documents every new route in the OpenAPI document', async () => {
    const paths = Object.keys((await t.call({ method: 'GET', url: '/openapi.json', as: null })).json().paths);
    for (const path of ['/v1/sessions', '/v1/sessions/current', '/v1/me', '/v1/me/password', '/v1/users/{id}/invite', '/v1/setup', '/setup', '/a/{token}', '/v1/inbound/sms']) {
      expect(paths).toContain(path);
    }
  });
});

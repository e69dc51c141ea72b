import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

// SPEC section 5: users with contact methods, channel preferences, locale, time zone and quiet
// hours; notifications sent to a user_id.

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ env: { RATE_LIMIT_MAX: '100000', SMTP_URL: 'smtp://127.0.0.1:1' } });
});
afterAll(async () => {
  await t.close();
});

let counter = 0;
const email = () => `person${++counter}-${Date.now()}@example.com`;
const createUser = (body: Record<string, unknown>) => t.call({ method: 'POST', url: '/v1/users', payload: body, as: 'write' });
const fields = (response: { json(): { details?: { field: string }[] } }) => response.json().details?.map((d) => d.field);

/** HH:MM in UTC of now plus some minutes. */
const utcClock = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString().slice(11, 16);

describe('users', () => {
  it('creates a user with contact methods and preferences, and reads it back with an ETag', async () => {
    const address = email();
    const created = await createUser({
      name: 'Ana Lima',
      email: address,
      phone: '+351912345678',
      locale: 'pt-br',
      timezone: 'America/Sao_Paulo',
      contact_methods: [
        { type: 'sms', address: '+351912345678' },
        { type: 'slack', address: 'https://hooks.slack.com/services/T0/B0/x' },
      ],
      preferences: { channels: { sms: false }, quiet_hours: { start: '22:00', end: '07:00' } },
    });
    expect(created.statusCode).toBe(201);
    const user = created.json();
    expect(created.headers.location).toBe(`/v1/users/${user.id}`);
    expect(user).toMatchObject({
      name: 'Ana Lima',
      email: address,
      locale: 'pt-BR',
      timezone: 'America/Sao_Paulo',
      contact_methods: [{ type: 'sms', address: '+351912345678' }, { type: 'slack' }],
      preferences: { channels: { email: true, sms: false, push: true, webhook: true, slack: true }, quiet_hours: { start: '22:00', end: '07:00' } },
    });

    const fetched = await t.call({ method: 'GET', url: `/v1/users/${user.id}`, as: 'read' });
    expect(fetched.json()).toEqual(user);
    const etag = fetched.headers.etag as string;
    expect((await t.call({ method: 'GET', url: `/v1/users/${user.id}`, headers: { 'if-none-match': etag }, as: 'read' })).statusCode).toBe(304);
  });

  it('reaches a user at their email (and phone) when no contact methods are given', async () => {
    const address = email();
    const user = (await createUser({ name: 'Bo', email: address, phone: '+14155550100' })).json();
    expect(user).toMatchObject({ locale: 'en', timezone: 'UTC', preferences: { quiet_hours: null } });
    expect(user.contact_methods.map((m: { type: string; address: string }) => [m.type, m.address])).toEqual([['email', address], ['sms', '+14155550100']]);
    const none = (await createUser({ name: 'Cy', email: email(), contact_methods: [] })).json();
    expect(none.contact_methods).toEqual([]);
  });

  it('refuses bad time zones, times, addresses, locales and a taken email, naming each field', async () => {
    const bad = await createUser({
      name: 'Bad',
      email: 'not-an-email',
      phone: '12345',
      locale: 'not a locale',
      timezone: 'Mars/Olympus_Mons',
      contact_methods: [{ type: 'sms', address: 'call me' }, { type: 'webhook', address: 'ftp://x' }],
      preferences: { quiet_hours: { start: '08:00', end: '08:00' } },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('VALIDATION_ERROR');
    expect(fields(bad)).toEqual([
      'body.email', 'body.phone', 'body.locale', 'body.timezone',
      'body.contact_methods.0.address', 'body.contact_methods.1.address', 'body.preferences.quiet_hours.end',
    ]);
    expect(fields(await createUser({ name: 'Off', email: email(), timezone: '+01:00' }))).toEqual(['body.timezone']);
    // quiet_hours may be null, so the schema also says it is not null: the time is named first.
    expect(fields(await createUser({ name: 'Late', email: email(), preferences: { quiet_hours: { start: '24:00', end: '07:00' } } }))?.[0]).toBe('body.preferences.quiet_hours.start');
    expect(fields(await createUser({ name: 'Typo', email: email(), preferences: { channels: { pager: true } } }))).toEqual(['body.preferences.channels.pager']);

    const address = email();
    expect((await createUser({ name: 'First', email: address })).statusCode).toBe(201);
    const taken = await createUser({ name: 'Second', email: address.toUpperCase() });
    expect(taken.statusCode).toBe(400);
    expect(fields(taken)).toEqual(['body.email']);
  });

  it('patches: contact methods replaced, channels merged, quiet hours replaced; If-Match guards', async () => {
    const user = (await createUser({ name: 'Di', email: email(), preferences: { channels: { sms: false }, quiet_hours: { start: '23:00', end: '06:00' } } })).json();
    const etag = (await t.call({ method: 'GET', url: `/v1/users/${user.id}`, as: 'read' })).headers.etag as string;
    const patched = await t.call({
      method: 'PATCH',
      url: `/v1/users/${user.id}`,
      headers: { 'if-match': etag },
      payload: { timezone: 'Asia/Kolkata', contact_methods: [{ type: 'push', address: 'device-token-1' }], preferences: { channels: { push: false } } },
      as: 'write',
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({
      timezone: 'Asia/Kolkata',
      contact_methods: [{ type: 'push', address: 'device-token-1' }],
      preferences: { channels: { sms: false, push: false, email: true }, quiet_hours: { start: '23:00', end: '06:00' } },
    });
    expect(patched.headers.etag).not.toBe(etag);

    const stale = await t.call({ method: 'PATCH', url: `/v1/users/${user.id}`, headers: { 'if-match': etag }, payload: { name: 'X' }, as: 'write' });
    expect(stale.statusCode).toBe(412);
    const cleared = await t.call({ method: 'PATCH', url: `/v1/users/${user.id}`, payload: { preferences: { quiet_hours: null } }, as: 'write' });
    expect(cleared.json().preferences).toMatchObject({ quiet_hours: null, channels: { push: false } });
    const badZone = await t.call({ method: 'PATCH', url: `/v1/users/${user.id}`, payload: { timezone: 'Nowhere/Land' }, as: 'write' });
    expect(fields(badZone)).toEqual(['body.timezone']);
    const missing = await t.call({ method: 'PATCH', url: '/v1/users/00000000-0000-4000-8000-000000000000', payload: { name: 'Z' }, as: 'write' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('USER_NOT_FOUND');
  });

  it('lists users newest first, by email, with a cursor', async () => {
    const address = email();
    const user = (await createUser({ name: 'Ed', email: address })).json();
    const byEmail = await t.call({ method: 'GET', url: `/v1/users?email=${encodeURIComponent(address.toUpperCase())}`, as: 'read' });
    expect(byEmail.json().data.map((u: { id: string }) => u.id)).toEqual([user.id]);
    const first = (await t.call({ method: 'GET', url: '/v1/users?limit=2', as: 'read' })).json();
    expect(first.data[0].id).toBe(user.id);
    const second = (await t.call({ method: 'GET', url: `/v1/users?limit=2&cursor=${first.next_cursor}`, as: 'read' })).json();
    expect(second.data.map((u: { id: string }) => u.id)).not.toContain(first.data[0].id);
    expect(second.data).toHaveLength(2);
  });
});

describe('notifications to a user_id', () => {
  const send = (payload: Record<string, unknown>) => t.call({ method: 'POST', url: '/v1/notifications', payload, as: 'write' });

  it("uses the user's contact method for the channel, and refuses a channel they cannot be reached on", async () => {
    const user = (await createUser({
      name: 'Flo',
      email: email(),
      contact_methods: [{ type: 'webhook', address: 'https://example.com/flo' }, { type: 'slack', address: 'https://hooks.slack.com/services/T/B/flo' }],
      preferences: { channels: { slack: false } },
    })).json();
    const sent = await send({ channel: 'webhook', user_id: user.id, content: 'hello' });
    expect(sent.statusCode).toBe(201);
    expect(sent.json()).toMatchObject({ recipient: 'https://example.com/flo', user_id: user.id, status: 'queued' });

    const noMethod = await send({ channel: 'email', user_id: user.id, content: 'x' });
    expect(noMethod.statusCode).toBe(400);
    expect(noMethod.json().details).toEqual([{ field: 'body.user_id', message: 'the user has no email contact method' }]);
    const turnedOff = await send({ channel: 'slack', user_id: user.id, content: 'x' });
    expect(turnedOff.json().details).toEqual([{ field: 'body.user_id', message: 'the user has turned slack off' }]);
    const nobody = await send({ channel: 'webhook', user_id: '00000000-0000-4000-8000-000000000000', content: 'x' });
    expect(nobody.json().details).toEqual([{ field: 'body.user_id', message: 'refers to no user' }]);
    const both = await send({ channel: 'webhook', user_id: user.id, recipient: 'https://example.com/x', content: 'x' });
    expect(fields(both)).toEqual(['body.user_id']);

    const batch = await t.call({
      method: 'POST',
      url: '/v1/notifications/batch',
      payload: { notifications: [{ channel: 'webhook', user_id: user.id, content: 'a' }, { channel: 'email', user_id: user.id, content: 'b' }] },
      as: 'write',
    });
    expect(batch.statusCode).toBe(400);
    expect(fields(batch)).toEqual(['body.notifications.1.user_id']);
  });

  it("renders a named template in the user's locale", async () => {
    const slug = `hello-${Date.now()}`;
    await t.call({ method: 'POST', url: '/v1/templates', payload: { slug, channel: 'webhook', locale: 'en', body: 'Hello {{name}}' }, as: 'write' });
    await t.call({ method: 'POST', url: '/v1/templates', payload: { slug, channel: 'webhook', locale: 'pt', body: 'Olá {{name}}' }, as: 'write' });
    const user = (await createUser({ name: 'Gil', email: email(), locale: 'pt-PT', contact_methods: [{ type: 'webhook', address: 'https://example.com/gil' }] })).json();
    const sent = await send({ channel: 'webhook', user_id: user.id, template: { slug, variables: { name: 'Gil' } } });
    expect(sent.json()).toMatchObject({ content: 'Olá Gil', content_type: 'text' });
    const english = await send({ channel: 'webhook', user_id: user.id, template: { slug, locale: 'en', variables: { name: 'Gil' } } });
    expect(english.json().content).toBe('Hello Gil');
  });

  it('holds a normal notification until quiet hours end, and lets a high one through', async () => {
    const user = (await createUser({
      name: 'Hal',
      email: email(),
      timezone: 'UTC',
      contact_methods: [{ type: 'webhook', address: 'https://example.com/hal' }],
      preferences: { quiet_hours: { start: utcClock(-60), end: utcClock(60) } },
    })).json();
    const expectedEnd = new Date(Math.floor((Date.now() + 60 * 60_000) / 60_000) * 60_000);
    const held = await send({ channel: 'webhook', user_id: user.id, content: 'can wait' });
    expect(held.json()).toMatchObject({ status: 'scheduled' });
    expect(Math.abs(new Date(held.json().scheduled_at).getTime() - expectedEnd.getTime())).toBeLessThanOrEqual(60_000);
    const urgent = await send({ channel: 'webhook', user_id: user.id, content: 'now', priority: 'high' });
    expect(urgent.json()).toMatchObject({ status: 'queued', scheduled_at: null });
  });
});

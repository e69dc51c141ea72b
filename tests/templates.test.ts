import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/test-app.ts';
import { eventually, startSmtpReceiver } from './helpers/receivers.ts';

// SPEC section 5: templates versioned by slug, channel and locale; locale fallback; strict
// variables; HTML escaping for email only; notifications that name a template.

let t: TestApp;
let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;

beforeAll(async () => {
  smtp = await startSmtpReceiver();
  t = await startTestApp({ role: 'all', env: { RATE_LIMIT_MAX: '100000', SMTP_URL: smtp.url, EMAIL_FROM: 'Tocsin <pager@example.com>' } });
});
afterAll(async () => {
  await t.close();
  await smtp.close();
});

const addTemplate = (body: Record<string, unknown>) => t.call({ method: 'POST', url: '/v1/templates', payload: body, as: 'write' });
const render = (slug: string, body: Record<string, unknown>) => t.call({ method: 'POST', url: `/v1/templates/${slug}/render`, payload: body, as: 'read' });
const unique = (name: string) => `${name}-${Math.random().toString(36).slice(2, 8)}`;

describe('default templates', () => {
  it('ships incident page, acknowledgement and resolution templates for every channel', async () => {
    const list = await t.call({ method: 'GET', url: '/v1/templates?limit=500', as: 'read' });
    expect(list.statusCode).toBe(200);
    const shipped = list.json().data.filter((x: { created_by: string }) => x.created_by === 'tocsin');
    for (const slug of ['incident.page', 'incident.acknowledged', 'incident.resolved']) {
      expect(shipped.filter((x: { slug: string }) => x.slug === slug).map((x: { channel: string }) => x.channel).sort()).toEqual(['email', 'push', 'slack', 'sms', 'webhook']);
    }
    const page = await render('incident.page', {
      channel: 'sms',
      variables: { incident: { id: 'i-1', title: 'DB down', severity: 'P1' }, user: { name: 'Ana' }, escalation: { level: 0 } },
    });
    expect(page.statusCode).toBe(200);
    expect(page.json()).toMatchObject({ slug: 'incident.page', channel: 'sms', locale: 'en', version: 1, content_type: 'text' });
    expect(page.json().content).toBe('[Tocsin] P1 DB down: you are paged (level 0). Incident i-1');
  });
});

describe('versions', () => {
  it('adds version 1, 2, ... per slug, channel and locale, and renders the latest', async () => {
    const slug = unique('welcome');
    const first = await addTemplate({ slug, channel: 'sms', body: 'Hi {{name}}' });
    expect(first.statusCode).toBe(201);
    expect(first.headers.location).toBe(`/v1/templates/${slug}`);
    expect(first.json()).toMatchObject({ slug, channel: 'sms', locale: 'en', version: 1, subject: null, body: 'Hi {{name}}', created_by: 'api_key:test writer' });
    const second = await addTemplate({ slug, channel: 'sms', locale: 'en', body: 'Hello {{name}}!' });
    expect(second.json().version).toBe(2);
    const otherLocale = await addTemplate({ slug, channel: 'sms', locale: 'pt', body: 'Olá {{name}}' });
    expect(otherLocale.json().version).toBe(1);
    const otherChannel = await addTemplate({ slug, channel: 'push', subject: 'Hi', body: 'Hi {{name}}' });
    expect(otherChannel.json().version).toBe(1);

    const shown = await t.call({ method: 'GET', url: `/v1/templates/${slug}`, as: 'read' });
    expect(shown.statusCode).toBe(200);
    const summary = (x: { channel: string; locale: string; version: number }) => `${x.channel}/${x.locale}/v${x.version}`;
    expect(shown.json().latest.map(summary)).toEqual(['push/en/v1', 'sms/en/v2', 'sms/pt/v1']);
    expect(shown.json()).not.toHaveProperty('versions');
    const versions = await t.call({ method: 'GET', url: `/v1/templates/${slug}/versions`, as: 'read' });
    expect(versions.json().data.map(summary)).toEqual(['push/en/v1', 'sms/en/v2', 'sms/en/v1', 'sms/pt/v1']);
    expect(versions.json().next_cursor).toBeNull();
    const sms = await t.call({ method: 'GET', url: `/v1/templates/${slug}/versions?channel=sms&locale=en`, as: 'read' });
    expect(sms.json().data.map(summary)).toEqual(['sms/en/v2', 'sms/en/v1']);
    expect((await t.call({ method: 'GET', url: `/v1/templates/${unique('none')}/versions`, as: 'read' })).json().code).toBe('TEMPLATE_NOT_FOUND');

    const rendered = await render(slug, { channel: 'sms', variables: { name: 'Bo' } });
    expect(rendered.json()).toMatchObject({ version: 2, content: 'Hello Bo!' });

    const listed = (await t.call({ method: 'GET', url: '/v1/templates?channel=sms&limit=500', as: 'read' })).json().data;
    expect(listed.filter((x: { slug: string }) => x.slug === slug).map(summary)).toEqual(['sms/en/v2', 'sms/pt/v1']);
  });

  it('numbers concurrent additions without gaps or collisions', async () => {
    const slug = unique('race');
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => addTemplate({ slug, channel: 'slack', body: `v ${i}` })));
    expect(results.map((r) => r.statusCode)).toEqual(Array(8).fill(201));
    expect(results.map((r) => r.json().version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('pages through the list with a cursor', async () => {
    const first = await t.call({ method: 'GET', url: '/v1/templates?limit=4', as: 'read' });
    const second = await t.call({ method: 'GET', url: `/v1/templates?limit=4&cursor=${first.json().next_cursor}`, as: 'read' });
    const key = (x: { slug: string; channel: string; locale: string }) => `${x.slug}/${x.channel}/${x.locale}`;
    const seen = [...first.json().data, ...second.json().data].map(key);
    expect(new Set(seen).size).toBe(8);
    expect(first.json().data.map(key)).toEqual(seen.slice(0, 4));
  });

  it('refuses a template that does not compile, naming the field', async () => {
    const broken = await addTemplate({ slug: unique('broken'), channel: 'sms', body: 'Hi {{#if name}}' });
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toMatchObject({ code: 'VALIDATION_ERROR', details: [{ field: 'body.body' }] });
    const helper = await addTemplate({ slug: unique('helper'), channel: 'email', subject: '{{shout name}}', body: 'ok' });
    expect(helper.statusCode).toBe(400);
    expect(helper.json().details[0]).toMatchObject({ field: 'body.subject' });
    expect(helper.json().details[0].message).toContain('unknown helper shout');
    const badSlug = await addTemplate({ slug: 'Has Spaces', channel: 'sms', body: 'x' });
    expect(badSlug.statusCode).toBe(400);
    const badLocale = await addTemplate({ slug: unique('loc'), channel: 'sms', locale: 'not a locale', body: 'x' });
    expect(badLocale.statusCode).toBe(400);
    expect(badLocale.json().details[0].field).toBe('body.locale');
  });
});

describe('locale fallback (pt-BR → pt → en)', () => {
  it('uses the most specific locale that has a version', async () => {
    const slug = unique('greet');
    await addTemplate({ slug, channel: 'sms', locale: 'en', body: 'Hello {{name}}' });
    await addTemplate({ slug, channel: 'sms', locale: 'pt', body: 'Olá {{name}}' });
    const as = async (locale?: string) => {
      const response = await render(slug, { variables: { name: 'Rui' }, ...(locale ? { locale } : {}) });
      expect(response.statusCode).toBe(200);
      return `${response.json().locale}: ${response.json().content}`;
    };
    expect(await as('pt-BR')).toBe('pt: Olá Rui');
    expect(await as('pt-br')).toBe('pt: Olá Rui');
    expect(await as('fr-CA')).toBe('en: Hello Rui');
    expect(await as()).toBe('en: Hello Rui');
    await addTemplate({ slug, channel: 'sms', locale: 'pt-br', body: 'Oi {{name}}' });
    expect(await as('pt-BR')).toBe('pt-BR: Oi Rui');
    expect(await as('pt-PT')).toBe('pt: Olá Rui');
  });

  it('says which channel to render when the slug has several, and 404s an unknown slug', async () => {
    const slug = unique('multi');
    await addTemplate({ slug, channel: 'sms', body: 'a' });
    await addTemplate({ slug, channel: 'email', body: 'b' });
    const ambiguous = await render(slug, {});
    expect(ambiguous.statusCode).toBe(400);
    expect(ambiguous.json().details).toEqual([{ field: 'body.channel', message: expect.stringContaining('email, sms') }]);
    expect((await render(unique('nothing'), {})).json()).toMatchObject({ code: 'TEMPLATE_NOT_FOUND' });
    expect((await t.call({ method: 'GET', url: `/v1/templates/${unique('nothing')}`, as: 'read' })).statusCode).toBe(404);
    expect((await render(slug, { channel: 'push' })).json()).toMatchObject({ code: 'TEMPLATE_NOT_FOUND' });
  });
});

describe('variables', () => {
  it('is 400 TEMPLATE_VARIABLE_MISSING naming the missing variable, nested or not', async () => {
    const slug = unique('strict');
    await addTemplate({ slug, channel: 'sms', body: 'Hi {{name}}, {{incident.title}} is {{incident.status}}{{#if note}} ({{note}}){{/if}}' });
    const none = await render(slug, { variables: {} });
    expect(none.statusCode).toBe(400);
    expect(none.json()).toMatchObject({
      code: 'TEMPLATE_VARIABLE_MISSING',
      details: [{ field: 'body.variables.name', variable: 'name' }],
    });
    expect(none.json().message).toContain('name');
    const nested = await render(slug, { variables: { name: 'A', incident: { title: 'x' } } });
    expect(nested.json()).toMatchObject({ code: 'TEMPLATE_VARIABLE_MISSING', details: [{ variable: 'incident.status' }] });
    // An optional section may be left out; a value may be empty, zero or false.
    const fine = await render(slug, { variables: { name: '', incident: { title: 0, status: false } } });
    expect(fine.statusCode).toBe(200);
    expect(fine.json().content).toBe('Hi , 0 is false');
  });
});

describe('escaping', () => {
  const nasty = `<script>alert("x")</script> & 'friends'`;

  it('escapes HTML in email bodies only, never in subjects or other channels', async () => {
    const slug = unique('escape');
    await addTemplate({ slug, channel: 'email', subject: 'About {{who}}', body: '<p>Hello {{who}}</p>' });
    await addTemplate({ slug, channel: 'slack', body: 'Hello {{who}}' });
    const email = await render(slug, { channel: 'email', variables: { who: nasty } });
    expect(email.json()).toMatchObject({ content_type: 'html', subject: `About ${nasty}` });
    expect(email.json().content).toBe('<p>Hello &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;friends&#x27;</p>');
    const slack = await render(slug, { channel: 'slack', variables: { who: nasty } });
    expect(slack.json()).toMatchObject({ content_type: 'text', content: `Hello ${nasty}` });
  });

  it('sends a notification rendered from an email template as HTML, escaped once', async () => {
    const slug = unique('mail');
    await addTemplate({ slug, channel: 'email', subject: 'Order {{order}}', body: '<p>Dear {{who}},</p><p>order {{order}} shipped.</p>' });
    const created = await t.call({
      method: 'POST',
      url: '/v1/notifications',
      payload: { channel: 'email', recipient: 'buyer@example.com', template: { slug, variables: { who: nasty, order: 42 } } },
      as: 'write',
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ subject: 'Order 42', content_type: 'html', status: 'queued' });
    const id = created.json().id;
    const mail = await eventually(() => smtp.messages.find((m) => m.raw.includes(id)), 10_000, 'the email');
    const html = mail.raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
    expect(html).toContain('&lt;script&gt;');
    expect(html).not.toContain('<script>');
    // Escaped once: the provider must not escape the rendered HTML a second time.
    expect(html).not.toContain('&amp;lt;');
    expect(html).toContain('<p>Dear ');
  });

  it('refuses a notification whose template lacks a variable, with the field of the batch item', async () => {
    const slug = unique('batch');
    await addTemplate({ slug, channel: 'webhook', body: 'value {{value}}' });
    const batch = await t.call({
      method: 'POST',
      url: '/v1/notifications/batch',
      payload: {
        notifications: [
          { channel: 'webhook', recipient: 'https://example.com/a', template: { slug, variables: { value: 1 } } },
          { channel: 'webhook', recipient: 'https://example.com/b', template: { slug, variables: {} } },
        ],
      },
      as: 'write',
    });
    expect(batch.statusCode).toBe(400);
    expect(batch.json()).toMatchObject({ code: 'TEMPLATE_VARIABLE_MISSING', details: [{ field: 'body.notifications.1.template.variables.value', variable: 'value' }] });
    const count = await t.db.selectFrom('notifications').select((eb) => eb.fn.countAll<string>().as('n')).where('recipient', 'like', 'https://example.com/%').executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(0);
  });

  it('wants exactly one of content and template, and no subject beside a template', async () => {
    const send = (payload: Record<string, unknown>) => t.call({ method: 'POST', url: '/v1/notifications', payload, as: 'write' });
    const both = await send({ channel: 'sms', recipient: '+14155550100', content: 'x', template: { slug: 'incident.page' } });
    expect(both.statusCode).toBe(400);
    expect(both.json().details.map((d: { field: string }) => d.field)).toContain('body.template');
    const neither = await send({ channel: 'webhook', recipient: 'https://example.com/x' });
    expect(neither.json().details.map((d: { field: string }) => d.field)).toEqual(['body.content']);
    const subject = await send({ channel: 'webhook', recipient: 'https://example.com/x', subject: 's', template: { slug: 'incident.page' } });
    expect(subject.json().details.map((d: { field: string }) => d.field)).toEqual(['body.subject']);
    const unknown = await send({ channel: 'webhook', recipient: 'https://example.com/x', template: { slug: unique('none') } });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().details[0].field).toBe('body.template.slug');
  });
});

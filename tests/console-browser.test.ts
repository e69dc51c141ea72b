// SPEC section 8 in a real headless Chromium: two people signed in, live updates, conflicts, a
// lost connection, retry, administration, keyboard use, accessibility (axe-core), narrow screens
// and the weight of the first page. One service (API and workers) and one browser for the file;
// each person is a browser context of their own. The browser reaches the service through a proxy
// that the lost-connection test cuts.
import { mkdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/adapters/free-port.ts';
import { chromiumTool, launchChromium, seriousViolations, signIn, startCuttableProxy } from './helpers/browser.ts';
import { startHttpReceiver, type HttpReceiver } from './helpers/receivers.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';
import { waitFor } from './helpers/wait.ts';

const shots = process.env.CONSOLE_SCREENSHOTS_DIR ?? 'test-results/console';
const password = 'correct horse battery staple';

let t: TestApp;
let receiver: HttpReceiver;
let proxy: Awaited<ReturnType<typeof startCuttableProxy>>;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
let browser: Browser;
let base: string;
const people = { ada: { id: '', email: 'ada@example.com', name: 'Ada Admin' }, rui: { id: '', email: 'rui@example.com', name: 'Rui Responder' } };
let ada: { context: BrowserContext; page: Page };
let rui: { context: BrowserContext; page: Page };
let incidentId = '';
let retriedId = '';

async function api<T = any>(method: 'GET' | 'POST' | 'PATCH', url: string, payload?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const answer = await t.call({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
  if (answer.statusCode >= 300) throw new Error(`${method} ${url}: ${answer.statusCode} ${answer.body}`);
  return answer.statusCode === 204 ? (undefined as T) : answer.json();
}

/** A person with a password, through the invitation link, as SPEC section 10 has it. */
async function person(who: { id: string; email: string; name: string }, role: 'admin' | 'responder') {
  const user = await api('POST', '/v1/users', { name: who.name, email: who.email, role, contact_methods: [{ type: 'webhook', address: `${receiver.url}/${role}` }] });
  who.id = user.id;
  const { url } = await api('POST', `/v1/users/${user.id}/invite`, {});
  const token = new URL(url).hash.replace('#token=', '');
  await api('POST', '/v1/setup', { token, password });
}

async function page(context: BrowserContext, hash: string): Promise<Page> {
  const opened = context.pages()[0] ?? (await context.newPage());
  await opened.goto(`${base}/${hash}`);
  return opened;
}

beforeAll(async () => {
  const executablePath = chromiumTool.assertPresent();
  receiver = await startHttpReceiver();
  // Pages reach the service through the proxy, so PUBLIC_URL (the origin the API checks on
  // cookie-authenticated writes) is the proxy's.
  const proxyPort = await freePort();
  base = `http://127.0.0.1:${proxyPort}`;
  t = await startTestApp({ role: 'all', env: { PUBLIC_URL: base, ALLOW_PRIVATE_TARGETS: 'true', RATE_LIMIT_MAX: '10000', RETRY_BACKOFF: '50ms' } });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  proxy = await startCuttableProxy((t.app.server.address() as { port: number }).port, proxyPort);
  await person(people.ada, 'admin');
  await person(people.rui, 'responder');
  const policy = await api('POST', '/v1/escalation-policies', { name: 'Payments primary', levels: [{ delay_seconds: 0, user_ids: [people.rui.id] }, { delay_seconds: 900, user_ids: [people.ada.id] }] });
  await api('POST', '/v1/teams', { name: 'Payments', member_ids: [people.ada.id, people.rui.id], escalation_policy_id: policy.id });
  chromium = await launchChromium(executablePath);
  browser = chromium.browser;
  mkdirSync(shots, { recursive: true });
}, 120_000);

afterAll(async () => {
  await chromium?.close();
  await proxy?.close();
  await t?.close();
  await receiver?.close();
});

/** Waits for a schedule's timeline to be drawn, or fails saying what the screen shows instead. */
async function timelineOf(page: Page): Promise<void> {
  try {
    await page.locator('.ticks span').first().waitFor({ timeout: 15_000 });
  } catch (error) {
    throw new Error(`the schedule's timeline did not appear; the screen shows: ${await page.locator('body').innerText()}`, { cause: error });
  }
}

describe(`the web console in Chromium${chromiumTool.label}`, { timeout: 60_000 }, () => {
  it('signs in, after saying a wrong password as a sentence, and shows the empty list', async () => {
    // bypassCSP only lets the test inject axe-core; the console itself runs under its CSP.
    const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
    const signin = await page(context, '');
    await signin.getByRole('heading', { name: 'Sign in to Tocsin' }).waitFor();
    expect(await seriousViolations(signin)).toEqual([]);
    await signin.screenshot({ path: `${shots}/sign-in-1280.png` });
    await signin.getByLabel('Email').fill(people.ada.email);
    await signin.getByLabel('Password').fill('not the password');
    await signin.getByRole('button', { name: 'Sign in' }).click();
    await signin.getByRole('alert').filter({ hasText: 'That email and password do not match an account' }).waitFor();
    await signin.getByLabel('Password').fill(password);
    await signin.getByRole('button', { name: 'Sign in' }).click();
    await signin.getByRole('heading', { name: 'Incidents' }).waitFor();
    await signin.getByText('Nothing is open. New incidents appear here').waitFor();
    ada = { context, page: signin };
  });

  it('creates an incident for a team: its escalation and delivered page are on one timeline', async () => {
    const { page: p } = ada;
    await p.getByRole('link', { name: 'New incident' }).click();
    await p.getByLabel('Title').fill('Checkout is failing');
    await p.getByLabel('Severity').selectOption('P2');
    await p.getByLabel('Team').selectOption({ label: 'Payments' });
    await p.getByRole('button', { name: 'Open incident' }).click();
    await p.getByRole('heading', { name: 'Checkout is failing' }).waitFor();
    incidentId = /#\/incidents\/([0-9a-f-]{36})/.exec(p.url())![1]!;
    const timeline = p.locator('.timeline');
    await timeline.getByText('Ada Admin opened the incident').waitFor();
    await timeline.getByText('Level 1 paged: Rui Responder (webhook)').waitFor();
    await timeline.getByText(/Next: level 2 \(Ada Admin\) will be paged/).waitFor();
    // The page reached the receiver; its attempt is shown under the notification.
    await timeline.getByText(/delivered/).first().waitFor({ timeout: 15_000 });
    await timeline.getByText(/HTTP 200/).first().waitFor();
  });

  it('two people: one acknowledges, the other sees it within a second without reloading, named on the timeline', async () => {
    const context = await browser.newContext({ bypassCSP: true, viewport: { width: 390, height: 844 } });
    rui = { context, page: await signIn(await context.newPage(), base, people.rui.email, password) };
    await rui.page.goto(`${base}/#/incidents/${incidentId}`);
    await rui.page.getByRole('heading', { name: 'Checkout is failing' }).waitFor();
    await ada.page.getByRole('button', { name: 'Acknowledge' }).click();
    await ada.page.getByRole('button', { name: 'Acknowledge' }).waitFor({ state: 'detached' });
    const acknowledged = Date.now();
    await rui.page.locator('.timeline').getByText('Ada Admin acknowledged the incident.').waitFor({ timeout: 1000 });
    await rui.page.locator('.badge.status-acknowledged').first().waitFor({ timeout: 1000 });
    console.log(`console: the acknowledgement showed in the other browser ${Date.now() - acknowledged} ms after the acknowledging page showed it`);
    await rui.page.getByText('Escalation stopped (the incident was acknowledged; 1 later level(s) will not be paged)').waitFor();
  });

  it('shows a new incident in another person\'s list within 3 s, without a reload', async () => {
    await rui.page.goto(`${base}/#/incidents`);
    await rui.page.getByRole('heading', { name: 'Incidents' }).waitFor();
    await api('POST', '/v1/incidents', { title: 'Queue depth is rising', severity: 'P3' });
    await rui.page.getByRole('link', { name: 'Queue depth is rising' }).waitFor({ timeout: 3000 });
  });

  it('acknowledges from the keyboard alone: Tab to the incident, Enter, Tab to Acknowledge, Enter', async () => {
    const p = rui.page;
    const tabTo = async (name: string) => {
      for (let presses = 0; presses < 60; presses++) {
        await p.keyboard.press('Tab');
        if (await p.evaluate<string>("document.activeElement?.textContent?.trim() ?? ''") === name) return;
      }
      throw new Error(`Tab never reached ${name}`);
    };
    await tabTo('Queue depth is rising');
    await p.keyboard.press('Enter');
    await p.getByRole('heading', { name: 'Queue depth is rising' }).waitFor();
    await tabTo('Acknowledge');
    await p.keyboard.press('Enter');
    await p.locator('.timeline').getByText('Rui Responder acknowledged the incident.').waitFor();
  });

  it('comments', async () => {
    const p = ada.page;
    await p.getByLabel('Comment', { exact: true }).fill('Rolled back the deploy of 14:02.');
    await p.getByRole('button', { name: 'Add comment' }).click();
    await p.locator('.timeline').getByText('Ada Admin commented:').waitFor();
    await p.locator('.timeline').getByText('Rolled back the deploy of 14:02.').waitFor();
  });

  it('says when an edit lost a race (412), and shows the latest version', async () => {
    const p = ada.page;
    await p.getByLabel('Severity').selectOption('P1');
    await api('PATCH', `/v1/incidents/${incidentId}`, { title: 'Checkout is failing in eu-west' });
    await p.getByRole('heading', { name: 'Checkout is failing in eu-west' }).waitFor();
    await p.getByText('This incident changed since you started editing.').waitFor();
    await p.getByRole('button', { name: 'Save changes' }).click();
    await p.getByRole('alert').filter({ hasText: 'Someone else changed this while you were editing, so your change was not saved.' }).waitFor();
    await waitFor(async () => (await p.getByLabel('Severity').inputValue()) === 'P2', { what: 'the form to show the latest severity' });
    expect((await api('GET', `/v1/incidents/${incidentId}`)).severity).toBe('P2');
  });

  it('resolves, and the other person sees it', async () => {
    await ada.page.getByRole('button', { name: 'Resolve' }).click();
    await ada.page.getByText(/^Resolved /).waitFor();
    await rui.page.goto(`${base}/#/incidents/${incidentId}`);
    await rui.page.locator('.timeline').getByText('Ada Admin resolved the incident.').waitFor();
  });

  it('retries a failed notification from its page', async () => {
    let failedOnce = false;
    receiver.respond = (request) => (request.path === '/flaky' && !failedOnce ? ((failedOnce = true), { status: 400, body: 'bad' }) : { status: 200, body: '{}' });
    const created = await api('POST', '/v1/notifications', { channel: 'webhook', recipient: `${receiver.url}/flaky`, subject: 'Disk almost full', content: '{"disk":"97%"}', incident_id: incidentId });
    retriedId = created.id;
    await waitFor(async () => (await api('GET', `/v1/notifications/${created.id}`)).status === 'failed', { what: 'the notification to fail' });
    const p = ada.page;
    await p.goto(`${base}/#/notifications?status=failed`);
    await p.getByRole('link', { name: 'Disk almost full' }).click();
    await p.getByRole('heading', { name: 'Disk almost full' }).waitFor();
    await p.getByText('HTTP 400', { exact: true }).waitFor();
    await p.getByRole('button', { name: 'Retry' }).click();
    await p.getByText('HTTP 200', { exact: true }).waitFor({ timeout: 15_000 });
    await p.locator('dd', { hasText: /^sent$/ }).waitFor();
  });

  it('shows a banner while the connection is lost, then resumes with what happened meanwhile', async () => {
    const p = rui.page;
    await p.goto(`${base}/#/incidents?status=all`);
    await p.getByRole('link', { name: 'Queue depth is rising' }).waitFor();
    proxy.cut();
    await p.getByText('Connection lost. Reconnecting…').waitFor();
    await api('POST', '/v1/incidents', { title: 'Made while the browser was away', severity: 'P4' });
    proxy.restore();
    await p.getByRole('link', { name: 'Made while the browser was away' }).waitFor({ timeout: 15_000 });
    await p.getByText('Connection lost. Reconnecting…').waitFor({ state: 'detached' });
  });

  it('administration: invites a user, adds a team, a policy, a schedule and an integration whose URL is shown once', async () => {
    const p = ada.page;
    await p.goto(`${base}/#/admin/users`);
    await p.getByLabel('Name').fill('Cy Park');
    await p.getByLabel('Email').fill('cy@example.com');
    await p.getByRole('button', { name: 'Add user' }).click();
    await p.getByRole('button', { name: 'Invite Cy Park' }).click();
    expect(await p.locator('.secret code').textContent()).toMatch(new RegExp(`^${base}/setup#token=.+`));

    await p.goto(`${base}/#/admin/policies`);
    await p.getByLabel('Name').fill('Checkout primary');
    await p.locator('fieldset.level').getByLabel('Cy Park').check();
    await p.getByRole('button', { name: 'Add policy' }).click();
    await p.getByText('Policy Checkout primary added.').waitFor();

    await p.goto(`${base}/#/admin/teams`);
    await p.getByLabel('Name').fill('Checkout');
    await p.getByRole('group', { name: 'Members' }).getByLabel('Cy Park').check();
    await p.getByLabel('Escalation policy').selectOption({ label: 'Checkout primary' });
    await p.getByRole('button', { name: 'Add team' }).click();
    await p.getByText('Team Checkout added.').waitFor();

    await p.goto(`${base}/#/admin/schedules`);
    await p.getByLabel('Name').fill('Checkout rotation');
    await p.getByLabel('Time zone').fill('UTC');
    await p.getByLabel('Cy Park').check();
    await p.getByLabel('Rui Responder').check();
    await p.getByLabel('First handoff (local time)').fill(new Date(Date.now() - 86400_000).toISOString().slice(0, 11) + '09:00');
    await p.getByLabel('Unit').selectOption('day');
    await p.getByRole('button', { name: 'Add schedule' }).click();
    await p.getByRole('link', { name: 'Checkout rotation' }).click();
    await p.getByRole('heading', { name: 'Checkout rotation: the next 7 days' }).waitFor();
    await p.locator('.timeline-bar .segment:not(.gap)').first().waitFor();
    expect(await p.locator('.timeline-bar .segment:not(.gap)').count()).toBeGreaterThan(3);
    await p.locator('table.entries').getByText('Cy Park').first().waitFor();

    await p.goto(`${base}/#/admin/integrations`);
    await p.getByLabel('Name').fill('Prometheus');
    await p.getByLabel('Type').selectOption('alertmanager');
    await p.getByRole('button', { name: 'Add integration' }).click();
    const url = await p.locator('.secret', { hasText: 'URL' }).locator('code').textContent();
    expect(url).toMatch(new RegExp(`^${base}/v1/integrations/.+/alertmanager$`));
    await p.screenshot({ path: `${shots}/integration-shown-once-1280.png` });
    await p.goto(`${base}/#/admin/heartbeats`);
    await p.goto(`${base}/#/admin/integrations`);
    await p.getByText(/alertmanager · no team · key/).waitFor();
    expect(await p.locator('.secret').count()).toBe(0);
    expect(await p.content()).not.toContain(url!);
  });

  it('has no serious or critical axe-core violation on any screen, fits 360 px, and is pictured at 1280 and 390 px', async () => {
    const p = ada.page;
    const screens: [string, string, string][] = [
      ['incidents', '#/incidents?status=all', 'Incidents'],
      ['new-incident', '#/incidents/new', 'New incident'],
      ['incident', `#/incidents/${incidentId}`, 'Checkout is failing in eu-west'],
      ['notifications', '#/notifications', 'Notifications'],
      ['notification', `#/notifications/${retriedId}`, 'Disk almost full'],
      ['on-call', '#/on-call', 'On call now'],
      ['admin-users', '#/admin/users', 'Users'],
      ['admin-teams', '#/admin/teams', 'Teams'],
      ['admin-policies', '#/admin/policies', 'Escalation policies'],
      ['admin-schedules', `#/admin/schedules/${(await api('GET', '/v1/schedules')).data[0].id}`, 'Schedules'],
      ['admin-integrations', '#/admin/integrations', 'Integrations'],
      ['admin-heartbeats', '#/admin/heartbeats', 'Heartbeats'],
      ['admin-api-keys', '#/admin/api-keys', 'API keys'],
    ];
    const pictured = new Set(['incidents', 'incident', 'new-incident', 'notification', 'on-call', 'admin-schedules', 'admin-policies']);
    const found: Record<string, unknown> = {};
    for (const [name, hash, heading] of screens) {
      for (const width of [1280, 360, 390]) {
        await p.setViewportSize({ width, height: width === 1280 ? 900 : 844 });
        await p.goto(`${base}/${hash}`);
        await p.getByRole('heading', { name: heading, exact: true }).first().waitFor();
        await p.waitForLoadState('networkidle');
        // The schedule's timeline comes after the directory and then its entries: wait for it.
        if (name === 'admin-schedules') await timelineOf(p);
        if (width === 1280) {
          const violations = await seriousViolations(p);
          if (violations.length > 0) found[name] = violations;
        }
        if (width === 360) {
          const overflow = await p.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
          expect(overflow, `${name} is wider than 360 px`).toBeLessThanOrEqual(0);
        } else if (pictured.has(name)) {
          await p.screenshot({ path: `${shots}/${name}-${width}.png`, fullPage: width === 1280 });
        }
      }
    }
    expect(found).toEqual({});

    // The schedule's timeline labels each local midnight of the next 7 days. Just after midnight
    // the last one sits at the right edge, and its label must still fit a 360 px page (at 01:40 it
    // ran 23 px past it, so this screen failed above only at some hours of the day).
    const night = await browser.newContext({ bypassCSP: true, viewport: { width: 360, height: 844 } });
    try {
      const q = await signIn(await night.newPage(), base, people.ada.email, password);
      const justAfterMidnight = new Date();
      justAfterMidnight.setDate(justAfterMidnight.getDate() + 1);
      justAfterMidnight.setHours(0, 30, 0, 0);
      await q.clock.setFixedTime(justAfterMidnight);
      await q.goto(`${base}/${screens.find(([name]) => name === 'admin-schedules')![1]}`);
      await q.getByRole('heading', { name: 'Schedules', exact: true }).first().waitFor();
      // Wait for the timeline itself: a network-idle page did not promise it (a CI run counted
      // no tick once, 2026-11-30; a 1.5 s delay on the entries' request here did not reproduce it).
      await timelineOf(q);
      const overflow = await q.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      expect(overflow, 'admin-schedules just after midnight is wider than 360 px').toBeLessThanOrEqual(0);
    } finally {
      await night.close();
    }
  }, 180_000);

  it('draws a schedule after the first load of the directory failed, once a retry succeeds', async () => {
    // The directory (people, teams, policies, schedules) used to load once at sign-in: one failed
    // request left the schedule screen without its timeline until the page was reloaded.
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      let refused = 0;
      await context.route((url) => url.pathname === '/v1/schedules' && url.searchParams.get('limit') === '500', async (route) => {
        if (refused === 0) {
          refused += 1;
          await route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'refused by the test' } }) });
        } else {
          await route.continue();
        }
      });
      const q = await signIn(await context.newPage(), base, people.ada.email, password);
      await q.goto(`${base}/#/admin/schedules/${(await api('GET', '/v1/schedules')).data[0].id}`);
      await q.getByRole('heading', { name: 'Schedules', exact: true }).first().waitFor();
      await timelineOf(q);
      expect(refused).toBe(1);
    } finally {
      await context.close();
    }
  });

  it('signs out', async () => {
    await rui.page.getByRole('button', { name: 'Sign out' }).click();
    await rui.page.getByRole('heading', { name: 'Sign in to Tocsin' }).waitFor();
    await rui.page.reload();
    await rui.page.getByRole('heading', { name: 'Sign in to Tocsin' }).waitFor();
  });

  it('loads at most 150 KB of JavaScript and CSS, gzipped, to sign in and show the incident list', async () => {
    const context = await browser.newContext();
    const fresh = await context.newPage();
    const sizes: { url: string; gzipped: number }[] = [];
    fresh.on('response', (response) => {
      const type = response.headers()['content-type'] ?? '';
      if (/javascript|css/.test(type)) void response.body().then((body) => sizes.push({ url: response.url(), gzipped: gzipSync(body).length }), () => undefined);
    });
    await signIn(fresh, base, people.rui.email, password);
    await fresh.getByRole('heading', { name: 'Incidents' }).waitFor();
    await fresh.waitForLoadState('networkidle');
    const total = sizes.reduce((sum, s) => sum + s.gzipped, 0);
    console.log(`console: sign-in and incident list load ${sizes.length} JS and CSS files, ${(total / 1024).toFixed(1)} KB gzipped`);
    expect(sizes.length).toBeGreaterThan(5);
    expect(total).toBeLessThanOrEqual(150 * 1024);
    await context.close();
  });
});

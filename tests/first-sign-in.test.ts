import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from './helpers/receivers.ts';
import { killAllServices, startServiceProcess } from './helpers/service-process.ts';
import { createTestDatabase } from './helpers/test-database.ts';

// SPEC section 10: a fresh installation's first start prints a setup link for a first admin
// account beside the admin API key, and `npx tocsin invite <email>` prints one. Real processes.

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const run = promisify(execFile);
let drop: (() => Promise<void>) | undefined;

afterAll(async () => {
  await killAllServices();
  await drop?.();
});

const tokenOf = (url: string) => new URL(url).hash.replace(/^#token=/, '');

async function setUp(base: string, url: string) {
  const response = await fetch(`${base}/v1/setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: tokenOf(url), password: 'a long enough password' }),
  });
  expect(response.status, await response.clone().text()).toBe(201);
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith('tocsin_session='))!.split(';')[0]!;
  const me = await fetch(`${base}/v1/me`, { headers: { cookie } });
  return (await me.json()) as { email: string; role: string };
}

describe('the first sign-in', () => {
  it('prints a first-admin setup link at the first start, and `tocsin invite` prints more', async () => {
    const database = await createTestDatabase();
    drop = database.drop;
    const service = await startServiceProcess('api', { DATABASE_URL: database.url });
    // Printed just after the process starts listening.
    const printed = await eventually(() => /First admin account: (\S+)\.[^\n]*\n\s*(\S+)/.exec(service.output()) ?? undefined, 10_000, 'the first-admin link');
    const [, email, url] = printed!;
    expect(url!.startsWith(`${service.base}/setup#token=`)).toBe(true);

    const page = await fetch(`${service.base}/setup`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toMatch(/<label for="password">Password<\/label>/);
    expect(html).toMatch(/minlength="12"/);

    expect(await setUp(service.base, url!)).toMatchObject({ email, role: 'admin' });
    // The link was good once.
    const again = await fetch(`${service.base}/v1/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: tokenOf(url!), password: 'another long password' }) });
    expect(again.status).toBe(400);

    const env = { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: database.url, PUBLIC_URL: service.base, LOG_LEVEL: 'warn' };
    const invited = await run(process.execPath, [cli, 'invite', 'ops-lead@example.com'], { env });
    expect(invited.stdout).toContain('Created the admin account ops-lead@example.com');
    const link = /\n\s*(http\S+)/.exec(invited.stdout)![1]!;
    expect(await setUp(service.base, link)).toMatchObject({ email: 'ops-lead@example.com', role: 'admin' });
  }, 120_000); // two Node processes on a loaded machine
});

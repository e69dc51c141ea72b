// A real headless Chromium (Debian's `chromium`, driven by playwright-core) for the console's tests,
// an accessibility check with axe-core, and a TCP proxy that a test can cut to make the browser
// lose its connection.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { chromium, type Page } from 'playwright-core';
import { requiredTool } from './required-tool.ts';

export const chromiumTool = requiredTool('Chromium', { paths: ['/usr/bin/chromium'], install: 'apt-get install chromium' });

/**
 * Chromium with a fresh profile; `newContext` gives independent sessions (cookies) in it.
 * playwright-core's launch() gives Chromium a fresh temporary --user-data-dir of its own (and
 * refuses one in `args`), and removes it on close.
 */
export async function launchChromium(executablePath: string) {
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/**
 * The serious and critical axe-core violations of what the page shows now (WCAG 2.x A and AA).
 * The console's CSP allows no injected script, so the page's context must bypass CSP
 * (`bypassCSP: true`) for this.
 */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run((globalThis as unknown as { document: unknown }).document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/**
 * A TCP proxy in front of the service. `cut()` drops every connection and refuses new ones until
 * `restore()`: to the browser it is the server going away, which is what a lost connection is.
 */
export async function startCuttableProxy(targetPort: number, listenPort = 0) {
  const sockets = new Set<Socket>();
  let refusing = false;
  const server = createServer((client) => {
    if (refusing) return client.destroy();
    const upstream = connect(targetPort, '127.0.0.1');
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(a);
      a.on('error', () => b.destroy());
      a.on('close', () => { sockets.delete(a); b.destroy(); });
      a.pipe(b);
    }
  });
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      refusing = true;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      refusing = false;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Signs in through the page, as a person does. */
export async function signIn(page: Page, base: string, email: string, password: string): Promise<Page> {
  await page.goto(base + '/');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Incidents' }).waitFor();
  return page;
}

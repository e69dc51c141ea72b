// SPEC section 8: how the console's files are served (from the service itself, types stripped,
// cached and revalidated), and that the console's generated API types match the API.
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleTypesFile, generateConsoleTypes } from '../scripts/console-types.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

describe('the console page and its files', () => {
  it('serves the page at / with an import map allowed by its hash and nothing else inline', async () => {
    const page = await t.app.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const importMap = /<script type="importmap">(.*?)<\/script>/s.exec(page.body)![1]!;
    expect(JSON.parse(importMap).imports.preact).toBe('/console/vendor/preact.js');
    const csp = String(page.headers['content-security-policy']);
    const hash = (await import('node:crypto')).createHash('sha256').update(importMap).digest('base64');
    expect(csp).toContain(`script-src 'self' 'sha256-${hash}'`);
    expect(page.body.match(/<script/g)).toHaveLength(2); // the import map and the module main.ts
  });

  it('serves browser TypeScript as JavaScript without its types, with an ETag, a 304 and gzip', async () => {
    const first = await t.app.inject({ url: '/console/api.ts' });
    expect(first.statusCode).toBe(200);
    expect(first.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(first.body).toContain('export class Problem extends Error');
    expect(first.body).not.toMatch(/import type|: Promise<|readonly code: string/);
    const etag = String(first.headers.etag);
    expect(first.headers['cache-control']).toBe('no-cache');
    const again = await t.app.inject({ url: '/console/api.ts', headers: { 'if-none-match': etag } });
    expect(again.statusCode).toBe(304);
    const zipped = await t.app.inject({ url: '/console/api.ts', headers: { 'accept-encoding': 'gzip, br' } });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(zipped.rawPayload).toString()).toBe(first.body);
  });

  it('serves the libraries from node_modules as ES modules and the stylesheet', async () => {
    for (const path of ['/console/vendor/preact.js', '/console/vendor/preact/hooks.js', '/console/vendor/htm.js', '/console/vendor/@preact/signals.js', '/console/vendor/openapi-fetch.js']) {
      const answer = await t.app.inject({ url: path });
      expect(answer.statusCode, path).toBe(200);
      expect(answer.body, path).toMatch(/\bexport\b/);
      expect(answer.body, path).not.toContain('sourceMappingURL');
    }
    const css = await t.app.inject({ url: '/console/console.css' });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it('serves nothing else of the checkout: other paths are 404 in the contract shape', async () => {
    for (const path of ['/console/openapi.d.ts', '/console/tsconfig.json', '/console/..%2F..%2Fconfig.ts', '/console/vendor/pg.js', '/console/vendor/../../package.json']) {
      const answer = await t.app.inject({ url: path });
      expect(answer.statusCode, path).toBe(404);
      expect(answer.json().code, path).toBe('NOT_FOUND');
    }
  });

  it('keeps the console out of the OpenAPI document', async () => {
    const document = (await t.app.inject({ url: '/openapi.json' })).json();
    expect(Object.keys(document.paths).filter((path) => path === '/' || path.startsWith('/console'))).toEqual([]);
  });
});

describe('the console is typed against the API', () => {
  it('has committed openapi.d.ts equal to a fresh generation from this app (run npm run console:types)', async () => {
    const document = (await t.app.inject({ url: '/openapi.json' })).json();
    const fresh = await generateConsoleTypes(document);
    const committed = await readFile(consoleTypesFile, 'utf8');
    expect(committed === fresh, 'src/adapters/http/console/openapi.d.ts is stale: start Tocsin and run `npm run console:types`').toBe(true);
  });
});

// SPEC section 8: the web console, served by the API process itself from what `npm install`
// installed. No bundler and no build step: the browser code is TypeScript in ./console/, stripped
// of its types by Node (module.stripTypeScriptTypes) when first asked for, and its libraries
// (Preact, htm, signals, openapi-fetch) are their own ES module files in node_modules, named to
// the browser by an import map. See docs/console.md.
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { stripTypeScriptTypes } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';

const consoleDir = fileURLToPath(new URL('./console/', import.meta.url));

/**
 * The bare specifiers the browser code imports, and the ES module file each one is in. Resolved
 * as Node resolves them (the packages' "import" condition), so an upgrade needs no change here.
 */
const vendorSpecifiers = ['preact', 'preact/hooks', 'htm', '@preact/signals', '@preact/signals-core', 'openapi-fetch'] as const;
const vendorFiles = new Map(vendorSpecifiers.map((specifier) => [specifier, fileURLToPath(import.meta.resolve(specifier))]));
const vendorUrl = (specifier: string) => `/console/vendor/${specifier}.js`;

const importMap = JSON.stringify({ imports: Object.fromEntries(vendorSpecifiers.map((s) => [s, vendorUrl(s)])) });
const importMapHash = createHash('sha256').update(importMap).digest('base64');

// Modules worth fetching at once rather than after main.ts is parsed (each level of imports is a
// round trip otherwise).
const preloaded = [vendorUrl('preact'), vendorUrl('htm'), vendorUrl('@preact/signals'), vendorUrl('@preact/signals-core'), vendorUrl('preact/hooks'), vendorUrl('openapi-fetch')];

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tocsin</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/console.css">
<script type="importmap">${importMap}</script>
${preloaded.map((url) => `<link rel="modulepreload" href="${url}">`).join('\n')}
<script type="module" src="/console/main.ts"></script>
</head>
<body>
<div id="app"><p class="loading">Loading Tocsin…</p></div>
<noscript><p>The Tocsin console needs JavaScript. The API is described at <a href="/docs">/docs</a>.</p></noscript>
</body>
</html>
`;

// The page runs only its own files: the import map is the one inline script, allowed by its hash.
const contentSecurityPolicy = [
  "default-src 'self'",
  `script-src 'self' 'sha256-${importMapHash}'`,
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

interface Asset {
  body: Buffer;
  gzipped: Buffer;
  etag: string;
  type: string;
  mtimeMs: number;
}

/** What a file becomes on the wire: TypeScript stripped, source-map comments dropped (the maps are not served). */
function transform(file: string, source: string): string {
  if (file.endsWith('.ts')) return stripTypeScriptTypes(source, { mode: 'strip' });
  return source.replace(/\/\/# sourceMappingURL=\S+\s*$/, '\n');
}

/** Files are read and transformed once, and again only when they change on disk (development). */
function makeAssetCache() {
  const cache = new Map<string, Asset>();
  return async function asset(file: string, type: string): Promise<Asset> {
    const { mtimeMs } = await stat(file);
    const cached = cache.get(file);
    if (cached && cached.mtimeMs === mtimeMs) return cached;
    const body = Buffer.from(transform(file, await readFile(file, 'utf8')));
    const made: Asset = {
      body,
      gzipped: gzipSync(body, { level: 9 }),
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      type,
      mtimeMs,
    };
    cache.set(file, made);
    return made;
  };
}

function send(request: FastifyRequest, reply: FastifyReply, asset: Asset) {
  // Revalidated on each load (a 304 when unchanged), so a new version shows at the next reload.
  reply.header('cache-control', 'no-cache').header('etag', asset.etag).header('vary', 'accept-encoding').type(asset.type);
  reply.header('x-content-type-options', 'nosniff');
  if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  if (/\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))) {
    return reply.header('content-encoding', 'gzip').send(asset.gzipped);
  }
  return reply.send(asset.body);
}

const javascript = 'text/javascript; charset=utf-8';
// Only files of the console's folder with plain names are served: nothing else of the checkout.
const ownFiles = new Set(readdirSync(consoleDir).filter((name) => /^[a-z][a-z0-9-]*\.(ts|css)$/.test(name) && !name.endsWith('.d.ts')));

export const consoleRoutes = (): FastifyPluginAsync => async (app) => {
  const asset = makeAssetCache();
  const hide = { hide: true } as const;

  app.get('/', { schema: hide }, async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', contentSecurityPolicy)
      .header('referrer-policy', 'no-referrer')
      .header('x-content-type-options', 'nosniff')
      .send(page));

  app.get<{ Params: { '*': string } }>('/console/vendor/*', { schema: hide }, async (request, reply) => {
    const specifier = request.params['*'].replace(/\.js$/, '');
    const file = vendorFiles.get(specifier as (typeof vendorSpecifiers)[number]);
    if (!file) return reply.callNotFound();
    return send(request, reply, await asset(file, javascript));
  });

  app.get<{ Params: { file: string } }>('/console/:file', { schema: hide }, async (request, reply) => {
    const { file } = request.params;
    if (!ownFiles.has(file)) return reply.callNotFound();
    return send(request, reply, await asset(consoleDir + file, file.endsWith('.css') ? 'text/css; charset=utf-8' : javascript));
  });
};

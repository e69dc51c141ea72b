import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';

// The few server-rendered pages of SPEC section 10 (/setup, /a/<token>): plain HTML, no framework,
// a tight Content-Security-Policy that allows only their own inline style and script.

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => escapes[c]!);

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;margin:0;padding:1rem;color:#111;background:#f6f6f6}
main{max-width:32rem;margin:2rem auto;background:#fff;padding:1.5rem;border-radius:8px;box-shadow:0 1px 3px #0002}
h1{font-size:1.4rem;margin-top:0}label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #555;border-radius:4px}
button{font:inherit;padding:.6rem 1.2rem;margin:.75rem .5rem 0 0;border:0;border-radius:4px;background:#0b57d0;color:#fff;cursor:pointer}
button.resolve{background:#146c2e}button:focus-visible,input:focus-visible{outline:3px solid #f4b400;outline-offset:2px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0}
.hint{color:#444;font-size:.9rem}`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
const styleHash = sha256(STYLE);

export function sendPage(reply: FastifyReply, status: number, title: string, body: string, script?: string): FastifyReply {
  const csp = [
    "default-src 'none'",
    `style-src ${styleHash}`,
    ...(script ? [`script-src ${sha256(script)}`, "connect-src 'self'"] : []),
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeHtml(title)} · Tocsin</title><style>${STYLE}</style></head>
<body><main>${body}</main>${script ? `<script>${script}</script>` : ''}</body></html>`;
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', csp)
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .send(html);
}

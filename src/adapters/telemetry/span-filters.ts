import { SpanKind, type Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';

// What never becomes a span, and what a span must not carry (SPEC section 12, and section 2's
// "logs never hold a secret", which holds for traces shipped to a collector too).

const probes = new Set(['/health', '/ready', '/metrics']);
// Long-lived connections: a span that lasts as long as the connection tells nothing.
const streams = ['/v1/stream', '/v1/ws'];

/** Probes and stream connections are not traced; `url` may carry a query string. */
export function isUntracedPath(url: string): boolean {
  const path = url.split('?', 1)[0]!;
  return probes.has(path) || streams.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

// The intake keys that authenticate a monitoring tool ride in the URL (SPEC section 6), and so
// does the token of a calendar feed (SPEC section 11: /v1/ical-feeds/:token.ics).
const secretPathSegments = [
  /(\/v1\/integrations\/)[^/?#]+(?=\/alertmanager)/,
  /(\/v1\/heartbeats\/)[^/?#]+(?=\/ping)/,
  /(\/v1\/ical-feeds\/)[^/?#]+/,
  // The action link of a page (SPEC section 10) acknowledges as the person paged.
  /^(\/a\/)[^/?#]+/,
];

export function redactServerUrl(value: string): string {
  return secretPathSegments.reduce((text, pattern) => text.replace(pattern, '$1[redacted]'), value);
}

/**
 * A provider URL keeps only its origin: webhook and Slack URLs carry their credential in the
 * path (Slack's `/services/T…/B…/secret`) or the query, and the customer chose them.
 */
function redactClientUrl(name: string, value: string): string {
  if (name === 'url.path') return value === '/' ? value : '/[redacted]';
  if (name === 'url.query' || name === 'http.target') return value === '' ? value : '[redacted]';
  try {
    const url = new URL(value);
    return url.pathname === '/' && url.search === '' && !url.username ? value : `${url.origin}/[redacted]`;
  } catch {
    return '[redacted]';
  }
}

// Old (http.*) and stable (url.*) semantic conventions: OTEL_SEMCONV_STABILITY_OPT_IN picks.
const urlAttributes = ['url.full', 'url.path', 'url.query', 'http.url', 'http.target'];

/**
 * Rewrites URL attributes as each span starts, before any exporter can see them. The HTTP
 * instrumentations set these attributes when they create the span, so onStart sees them all.
 */
export class UrlRedactingProcessor implements SpanProcessor {
  onStart(span: Span, _parentContext: Context): void {
    const client = span.kind === SpanKind.CLIENT;
    for (const name of urlAttributes) {
      const value = span.attributes[name];
      if (typeof value !== 'string') continue;
      // @fastify/otel's url.path is the request's URL, query string included: the path alone is
      // what the attribute means, and a query may carry what a user searched for.
      const redacted = client ? redactClientUrl(name, value) : redactServerUrl(name === 'url.path' ? value.split('?', 1)[0]! : value);
      if (redacted !== value) span.setAttribute(name, redacted);
    }
  }

  onEnd(_span: ReadableSpan): void {}

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {}
}

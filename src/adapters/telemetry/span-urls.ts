// Loaded with tracing off too (request-log.ts): no OpenTelemetry import here.
// What never becomes a span, and what a span must not carry (SPEC section 12, and section 2's
// "logs never hold a secret", which holds for traces shipped to a collector too).

// The probes, and the long-lived stream connections (a span that lasts as long as the connection
// tells nothing), each with an optional query string; a stream path may go on after a slash. One
// anchored expression decides most URLs at their fifth character, with nothing allocated: it runs
// for every traced request (twice), where splitting the URL and building the prefixes cost about
// 1 us a request.
const untraced = /^\/(?:health|ready|metrics|v1\/(?:stream|ws)(?:\/[^?]*)?)(?:\?|$)/;

/** Probes and stream connections are not traced; `url` may carry a query string. */
export function isUntracedPath(url: string): boolean {
  return untraced.test(url);
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
 * The `url.path` of a request's SERVER span: the path alone (a query string may carry what a user
 * searched for), its secret segments redacted. Only a route with parameters, or no route at all
 * (a 404 for a mistyped intake URL), can carry a secret: a fixed route such as `/v1/incidents`
 * skips the expressions.
 */
export function serverSpanPath(url: string, route: string | undefined): string {
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  return route === undefined || route.includes(':') || route.includes('*') ? redactServerUrl(path) : path;
}

/**
 * A provider URL keeps only its origin: webhook and Slack URLs carry their credential in the
 * path (Slack's `/services/T…/B…/secret`) or the query, and the customer chose them.
 */
export function redactClientUrl(name: string, value: string): string {
  if (name === 'url.path') return value === '/' ? value : '/[redacted]';
  if (name === 'url.query' || name === 'http.target') return value === '' ? value : '[redacted]';
  try {
    const url = new URL(value);
    return url.pathname === '/' && url.search === '' && !url.username ? value : `${url.origin}/[redacted]`;
  } catch {
    return '[redacted]';
  }
}

// Provider URLs repeat (one webhook URL for thousands of notifications): their span attributes are
// worked out once. Bounded, because customers choose the URLs.
const clientTargets = new Map<string, Record<string, string | number>>();

/**
 * The URL attributes of a provider call's CLIENT span (tracing is on): `url.full` redacted as
 * above, `url.scheme`, `server.address` and `server.port`. Nothing for a URL that does not parse.
 */
export function clientUrlAttributes(value: string): Record<string, string | number> {
  let attributes = clientTargets.get(value);
  if (attributes) return attributes;
  try {
    const url = new URL(value);
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    attributes = { 'url.full': redactClientUrl('url.full', value), 'url.scheme': url.protocol.slice(0, -1), 'server.address': url.hostname.replace(/^\[(.*)\]$/, '$1'), 'server.port': port };
  } catch {
    attributes = {};
  }
  if (clientTargets.size >= 1000) clientTargets.clear();
  clientTargets.set(value, attributes);
  return attributes;
}

import assert from 'node:assert/strict';
import { lookup } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { Agent, buildConnector, request, type Dispatcher } from 'undici';
import { describeAnswer, EXCERPT_BYTES, sanitizeExcerpt } from '../../domain/answer-excerpt.ts';
import { isPermanentHttpStatus, type DeliveryResult } from '../../domain/notification.ts';
import { withHttpClientSpan } from '../telemetry/trace-context.ts';

/**
 * Shared HTTP plumbing for the HTTP providers: keep-alive connection pools (undici), a timeout,
 * the SSRF guard, and the mapping from an HTTP answer to a DeliveryResult.
 */

const TIMEOUT_MS = 10_000;

// Special-purpose ranges (IANA registries, RFC 6890) that a customer-supplied URL must not reach.
// BlockList matches IPv4-mapped IPv6 addresses (::ffff:7f00:1 is 127.0.0.1) against the IPv4
// rules, which a string comparison cannot do.
const privateRanges = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) privateRanges.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 96], // unspecified, loopback and the deprecated IPv4-compatible form (::7f00:1)
  // NAT64 (RFC 6052) and 6to4 (RFC 3056) embed an IPv4 address, private ones included: a gateway
  // translating 64:ff9b::a00:1 or 2002:a00:1:: would reach 10.0.0.1. Refused as a whole.
  ['64:ff9b::', 96], // well-known NAT64
  ['64:ff9b:1::', 48], // local-use NAT64
  ['2002::', 16], // 6to4
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) privateRanges.addSubnet(network, prefix, 'ipv6');

/** Addresses a public webhook must never reach unless ALLOW_PRIVATE_TARGETS is set. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  assert(family !== 0, `${address} is not an IP address`);
  return privateRanges.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export class PrivateTargetError extends Error {}

const privateTarget = (hostname: string, address: string) =>
  new PrivateTargetError(`${hostname === address ? address : `${hostname} resolves to ${address}, which`} is a private address (ALLOW_PRIVATE_TARGETS is false)`);

/**
 * A connection pool that refuses private addresses at connect time, on the address actually
 * dialled, so a name that resolves differently later (DNS rebinding) cannot slip through. Names
 * are checked in the DNS lookup; IP literals are checked before connecting, because Node's
 * net.connect never calls `lookup` for an IP literal (http://10.0.0.1/ would otherwise pass).
 */
export function makeAgent(options: { allowPrivate: boolean; connections?: number }): Agent {
  const connector = buildConnector({
    timeout: TIMEOUT_MS,
    lookup: (hostname, lookupOptions, callback) => {
      lookup(hostname, { ...lookupOptions, all: true }, (error, addresses) => {
        if (error) return callback(error, '', 4);
        const list = addresses as unknown as { address: string; family: number }[];
        if (!options.allowPrivate) {
          const blocked = list.find((a) => isPrivateAddress(a.address));
          if (blocked) return callback(privateTarget(hostname, blocked.address), '', 4);
        }
        if ((lookupOptions as { all?: boolean }).all) return (callback as unknown as (e: null, a: typeof list) => void)(null, list);
        const first = list[0]!;
        callback(null, first.address, first.family);
      });
    },
  });
  return new Agent({
    connections: options.connections ?? 64,
    keepAliveTimeout: 30_000,
    headersTimeout: TIMEOUT_MS,
    bodyTimeout: TIMEOUT_MS,
    // undici hands the connector IPv6 literals without their brackets.
    connect: (connectOptions, callback) => {
      const { hostname } = connectOptions;
      if (!options.allowPrivate && isIP(hostname) !== 0 && isPrivateAddress(hostname)) return callback(privateTarget(hostname, hostname), null);
      connector(connectOptions, callback);
    },
  });
}

/**
 * Retry-After as seconds or an HTTP date, in milliseconds. Clamped to a day so that an absurd value
 * cannot overflow a date; the retry decision caps it further (RETRY_AFTER_MAX_SECONDS).
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  const seconds = Number(text);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(text) - now;
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 86_400_000) : undefined;
}

// SPEC section 4: an answer's body is read up to this many bytes (so that an ordinary error page is
// consumed whole and its keep-alive connection reused), then the rest is dropped with the
// connection. Only the first EXCERPT_BYTES (and the bytes of a character cut there) are kept.
const BODY_READ_LIMIT = 64 * 1024;
const KEEP_BYTES = EXCERPT_BYTES + 3;

/**
 * Reads at most BODY_READ_LIMIT bytes of a body before `signal` aborts, keeping the first
 * KEEP_BYTES. A body that is longer, or still trickling in when the deadline comes, is destroyed
 * with its connection; `complete` says whether it was read to its end.
 */
async function readBounded(body: Dispatcher.ResponseData['body'], signal: AbortSignal): Promise<{ kept: Buffer; complete: boolean }> {
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let read = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (keptBytes < KEEP_BYTES) {
        const part = chunk.subarray(0, KEEP_BYTES - keptBytes);
        kept.push(part);
        keptBytes += part.length;
      }
      read += chunk.length;
      if (read > BODY_READ_LIMIT || signal.aborted) break;
    }
    return { kept: Buffer.concat(kept), complete: read <= BODY_READ_LIMIT && !signal.aborted };
  } catch {
    // Reset or aborted mid-body: what arrived is still worth keeping.
    return { kept: Buffer.concat(kept), complete: false };
  } finally {
    if (!body.destroyed) body.destroy();
  }
}

// Recipient URLs repeat (one webhook URL for thousands of notifications): each one's host is
// parsed once. Bounded, because customers choose the URLs.
const hosts = new Map<string, string>();

/** The host (name and port) of a provider URL, for its circuit breaker's key. */
export function hostOf(url: string): string {
  let host = hosts.get(url);
  if (host === undefined) {
    host = new URL(url).host;
    if (hosts.size >= 1000) hosts.clear();
    hosts.set(url, host);
  }
  return host;
}

/**
 * One HTTP request (SPEC section 4): at most TIMEOUT_MS from connecting to the end of the answer,
 * redirects never followed, and only a sanitized excerpt of the answer kept in the error.
 */
export function deliverHttp(
  agent: Dispatcher,
  url: string,
  init: { method?: 'POST'; headers: Record<string, string>; body: string },
): Promise<DeliveryResult> {
  const method = init.method ?? 'POST';
  // SPEC section 12: the call's CLIENT span, whose context the receiver gets as `traceparent`.
  return withHttpClientSpan(method, url, init.headers, (headers) => send(agent, url, method, headers, init.body));
}

async function send(agent: Dispatcher, url: string, method: 'POST', headers: Record<string, string>, body: string): Promise<DeliveryResult> {
  // One deadline for the whole exchange: undici's own timeouts are per phase (a body that sends a
  // byte every few seconds never trips bodyTimeout), and a delivery must end within 10 s. A timer
  // cleared when the exchange ends, not AbortSignal.timeout: that one cannot be cleared, so every
  // delivery's signal, timer and listeners stayed alive for 10 s after it (at 5,000 deliveries a
  // second, 50,000 of them; a worker's heap after a drain held 1.5 MB of them).
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(new DOMException(`no answer within ${TIMEOUT_MS / 1000} s`, 'TimeoutError')), TIMEOUT_MS);
  deadline.unref();
  const signal = controller.signal;
  try {
    const response = await request(url, {
      method,
      headers,
      body,
      dispatcher: agent,
      signal,
    });
    const status = response.statusCode;
    // The status line is the answer: a 2xx whose body is slow or huge was still accepted. Its body
    // is only read off the connection (up to the same limit, within the same deadline) so that
    // the connection is reused; undici's dump() does that without readBounded's async iterator,
    // which cost about 2.5 KB of garbage per delivery (a sampling heap profile of a drain).
    if (status >= 200 && status < 300) {
      await response.body.dump({ limit: BODY_READ_LIMIT, signal }).catch(() => {});
      return { ok: true, status_code: status };
    }
    const { kept, complete } = await readBounded(response.body, signal);
    if (status >= 300 && status < 400) {
      // Following a redirect would send the notification somewhere nobody configured (and could
      // reach a private address the SSRF guard never checked), so a 3xx fails like a 4xx.
      const location = response.headers.location;
      const where = sanitizeExcerpt(String((Array.isArray(location) ? location[0] : location) ?? '(no Location header)'), 512);
      return { ok: false, permanent: true, status_code: status, error: `HTTP ${status}: redirect to ${where} not followed (redirects are refused)` };
    }
    const retryAfter = status === 429 || status === 503 ? parseRetryAfter(response.headers['retry-after']) : undefined;
    const cut = complete ? '' : ` [answer cut: ${signal.aborted ? `body not finished within ${TIMEOUT_MS / 1000} s` : `longer than ${BODY_READ_LIMIT} bytes`}]`;
    return {
      ok: false,
      permanent: isPermanentHttpStatus(status),
      status_code: status,
      error: describeAnswer(`HTTP ${status}${cut}`, kept),
      ...(retryAfter === undefined ? {} : { retry_after_ms: retryAfter }),
    };
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    if (error instanceof PrivateTargetError || cause instanceof PrivateTargetError) {
      return { ok: false, permanent: true, error: (cause instanceof PrivateTargetError ? cause : (error as Error)).message };
    }
    if (signal.aborted) return { ok: false, permanent: false, error: `timeout: no answer within ${TIMEOUT_MS / 1000} s` };
    const code = (error as { code?: string }).code ?? (cause as { code?: string } | undefined)?.code;
    return { ok: false, permanent: false, error: sanitizeExcerpt(`${code ? `${code}: ` : ''}${(error as Error).message}`) };
  } finally {
    clearTimeout(deadline);
  }
}

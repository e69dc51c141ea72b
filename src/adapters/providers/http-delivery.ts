import assert from 'node:assert/strict';
import { lookup } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { Agent, buildConnector, type Dispatcher } from 'undici';
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

/** Where a provider URL points, as undici's dispatch takes it, and its host for a breaker key. */
interface Target {
  origin: string;
  path: string;
  host: string;
}

// Recipient URLs repeat (one webhook URL for thousands of notifications): each one is parsed once.
// Bounded, because customers choose the URLs.
const targets = new Map<string, Target>();

function targetOf(url: string): Target {
  let target = targets.get(url);
  if (target === undefined) {
    const parsed = new URL(url);
    target = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}`, host: parsed.host };
    if (targets.size >= 1000) targets.clear();
    targets.set(url, target);
  }
  return target;
}

/** The host (name and port) of a provider URL, for its circuit breaker's key. */
export const hostOf = (url: string): string => targetOf(url).host;

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

const timeoutError = () => new DOMException(`no answer within ${TIMEOUT_MS / 1000} s`, 'TimeoutError');
const NO_ANSWER = `timeout: no answer within ${TIMEOUT_MS / 1000} s`;
const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/**
 * The exchange itself, on undici's dispatch API: its callbacks see the status, the headers and
 * each chunk of the body as they arrive. `request()` wrapped each answer in a Readable stream and
 * each deadline in an AbortSignal with its listeners, for a body that is, for a 2xx, only read off
 * the connection: about a quarter of a delivering worker's CPU (profiles of 20,000-job drains).
 *
 * One deadline for the whole exchange, a timer cleared when it ends: undici's own timeouts are per
 * phase (a body that sends a byte every few seconds never trips bodyTimeout), and a delivery must
 * end within 10 s, waiting for a free connection included. A 2xx is the answer as soon as its
 * status line arrives; its body is still read off the connection (up to the same limit, within
 * the same deadline) so that the connection is reused. Any other answer is read up to
 * BODY_READ_LIMIT, of which KEEP_BYTES are kept for the error.
 */
function send(agent: Dispatcher, url: string, method: 'POST', headers: Record<string, string>, body: string): Promise<DeliveryResult> {
  return new Promise<DeliveryResult>((resolve) => {
    const exchange = new Exchange(resolve);
    try {
      const { origin, path } = targetOf(url);
      agent.dispatch({ origin, path, method, headers, body }, exchange);
    } catch (error) {
      // Arguments undici refuses (a header value with a newline, a URL that is not one).
      exchange.end(failed(error as Error, false));
    }
  });
}

function onDeadline(exchange: Exchange): void {
  exchange.timedOut = true;
  if (exchange.status === 0) exchange.settle({ ok: false, permanent: false, error: NO_ANSWER });
  else exchange.settle(exchange.answered(`body not finished within ${TIMEOUT_MS / 1000} s`));
  // Still waiting for a connection, the request is aborted as soon as it gets one.
  exchange.controller?.abort(timeoutError());
}

/** Why an exchange ended without an answer. */
function failed(error: Error, timedOut: boolean): DeliveryResult {
  const cause = (error as { cause?: unknown }).cause;
  if (error instanceof PrivateTargetError || cause instanceof PrivateTargetError) {
    return { ok: false, permanent: true, error: (cause instanceof PrivateTargetError ? cause : error).message };
  }
  if (timedOut) return { ok: false, permanent: false, error: NO_ANSWER };
  const code = (error as { code?: string }).code ?? (cause as { code?: string } | undefined)?.code;
  return { ok: false, permanent: false, error: sanitizeExcerpt(`${code ? `${code}: ` : ''}${error.message}`) };
}

/**
 * One delivery's handler of undici's dispatch, and its state. A class, not a dozen closures per
 * request: a delivering worker makes thousands of these a second, and what each allocates is the
 * garbage collector's work.
 */
class Exchange implements Dispatcher.DispatchHandler {
  controller: Dispatcher.DispatchController | undefined;
  timedOut = false;
  status = 0;
  private settled = false;
  private location: string | undefined;
  private retryAfter: string | undefined;
  private kept: Buffer[] | undefined;
  private keptBytes = 0;
  private read = 0;
  private readonly deadline: NodeJS.Timeout;
  private readonly resolve: (result: DeliveryResult) => void;

  constructor(resolve: (result: DeliveryResult) => void) {
    this.resolve = resolve;
    this.deadline = setTimeout(onDeadline, TIMEOUT_MS, this);
    this.deadline.unref();
  }

  settle(result: DeliveryResult): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(result);
  }

  /** Clears the deadline and settles with `result`: the exchange is over. */
  end(result: DeliveryResult): void {
    clearTimeout(this.deadline);
    this.settle(result);
  }

  /** What an answer other than a 2xx says, read whole or `cut` short. */
  answered(cut?: string): DeliveryResult {
    const status = this.status;
    const excerpt = Buffer.concat(this.kept ?? [], this.keptBytes);
    if (status >= 300 && status < 400) {
      // Following a redirect would send the notification somewhere nobody configured (and could
      // reach a private address the SSRF guard never checked), so a 3xx fails like a 4xx.
      const where = sanitizeExcerpt(this.location ?? '(no Location header)', 512);
      return { ok: false, permanent: true, status_code: status, error: `HTTP ${status}: redirect to ${where} not followed (redirects are refused)` };
    }
    const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(this.retryAfter) : undefined;
    return {
      ok: false,
      permanent: isPermanentHttpStatus(status),
      status_code: status,
      error: describeAnswer(`HTTP ${status}${cut ? ` [answer cut: ${cut}]` : ''}`, excerpt),
      ...(retryAfterMs === undefined ? {} : { retry_after_ms: retryAfterMs }),
    };
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.timedOut) controller.abort(timeoutError());
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200) return; // 1xx: informational, the answer follows
    this.status = statusCode;
    if (statusCode < 300) return this.settle({ ok: true, status_code: statusCode });
    this.location = first(headers.location);
    this.retryAfter = first(headers['retry-after']);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.status >= 300 && this.keptBytes < KEEP_BYTES) {
      const part = chunk.subarray(0, KEEP_BYTES - this.keptBytes);
      (this.kept ??= []).push(part);
      this.keptBytes += part.length;
    }
    this.read += chunk.length;
    if (this.read > BODY_READ_LIMIT) {
      if (this.status >= 300) this.settle(this.answered(`longer than ${BODY_READ_LIMIT} bytes`));
      controller.abort(new Error(`answer longer than ${BODY_READ_LIMIT} bytes`));
    }
  }

  onResponseEnd(): void {
    clearTimeout(this.deadline);
    // A 2xx settled at its status line; only another answer is read for its excerpt.
    if (!this.settled) this.settle(this.answered());
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    // Reset or aborted mid-body: what arrived of the answer is still worth keeping.
    clearTimeout(this.deadline);
    if (!this.settled) this.settle(this.status === 0 ? failed(error, this.timedOut) : this.answered('the connection closed before its end'));
  }
}

import { lookup } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, request, type Dispatcher } from 'undici';
import { isPermanentHttpStatus, type DeliveryResult } from '../../domain/notification.ts';

/**
 * Shared HTTP plumbing for the HTTP providers: keep-alive connection pools (undici), a timeout,
 * the SSRF guard, and the mapping from an HTTP answer to a DeliveryResult.
 */

const TIMEOUT_MS = 10_000;

/** Addresses a public webhook must never reach unless ALLOW_PRIVATE_TARGETS is set. */
export function isPrivateAddress(address: string): boolean {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) {
    const [a, b] = v4.split('.').map(Number) as [number, number];
    return (
      a === 0 || a === 10 || a === 127 || a >= 224 ||
      (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
      (a === 169 && b === 254) || // link-local, cloud metadata
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 192 && b === 0) ||
      (a === 198 && (b === 18 || b === 19))
    );
  }
  const v6 = address.toLowerCase();
  return v6 === '::' || v6 === '::1' || v6.startsWith('fc') || v6.startsWith('fd') || v6.startsWith('fe80') || v6.startsWith('ff');
}

export class PrivateTargetError extends Error {}

/**
 * A connection pool whose DNS lookup refuses private addresses. The check happens at connect
 * time on the address actually dialled, so a name that resolves differently later (DNS
 * rebinding) cannot slip through.
 */
export function makeAgent(options: { allowPrivate: boolean; connections?: number }): Agent {
  return new Agent({
    connections: options.connections ?? 64,
    keepAliveTimeout: 30_000,
    headersTimeout: TIMEOUT_MS,
    bodyTimeout: TIMEOUT_MS,
    connect: {
      timeout: TIMEOUT_MS,
      lookup: (hostname, lookupOptions, callback) => {
        lookup(hostname, { ...lookupOptions, all: true }, (error, addresses) => {
          if (error) return callback(error, '', 4);
          const list = addresses as unknown as { address: string; family: number }[];
          if (!options.allowPrivate) {
            const blocked = list.find((a) => isPrivateAddress(a.address));
            if (blocked) return callback(new PrivateTargetError(`${hostname} resolves to ${blocked.address}, a private address (ALLOW_PRIVATE_TARGETS is false)`), '', 4);
          }
          if ((lookupOptions as { all?: boolean }).all) return (callback as unknown as (e: null, a: typeof list) => void)(null, list);
          const first = list[0]!;
          callback(null, first.address, first.family);
        });
      },
    },
  });
}

/** Retry-After as seconds or an HTTP date, in milliseconds (capped at an hour). */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  const seconds = Number(text);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(text) - now;
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 3_600_000) : undefined;
}

export async function deliverHttp(
  agent: Dispatcher,
  url: string,
  init: { method?: 'POST'; headers: Record<string, string>; body: string },
): Promise<DeliveryResult> {
  try {
    const response = await request(url, {
      method: init.method ?? 'POST',
      headers: init.headers,
      body: init.body,
      dispatcher: agent,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const text = await response.body.text().catch(() => '');
    const status = response.statusCode;
    if (status >= 200 && status < 300) return { ok: true, status_code: status };
    const retryAfter = status === 429 || status === 503 ? parseRetryAfter(response.headers['retry-after']) : undefined;
    return {
      ok: false,
      permanent: isPermanentHttpStatus(status),
      status_code: status,
      error: `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`,
      ...(retryAfter === undefined ? {} : { retry_after_ms: retryAfter }),
    };
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    if (error instanceof PrivateTargetError || cause instanceof PrivateTargetError) {
      return { ok: false, permanent: true, error: (cause instanceof PrivateTargetError ? cause : (error as Error)).message };
    }
    const code = (error as { code?: string }).code ?? (cause as { code?: string } | undefined)?.code;
    return { ok: false, permanent: false, error: `${code ? `${code}: ` : ''}${(error as Error).message}` };
  }
}

import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

// SPEC section 2: logs never hold a secret. Secrets reach a server in four places: headers
// (Authorization, Cookie), URL paths (intake keys, action-link tokens), query strings (tokens and
// tickets of links) and bodies. Bodies are never logged; the request serializer below logs no
// header and redacts the secret parts of the URL; the redact paths catch secrets that code logs
// by mistake as fields of an object.

const REDACTED = '[redacted]';

/**
 * A path segment after one of these is a secret (/v1/integrations/:key/..., /v1/heartbeats/:key/ping,
 * /a/:token, /v1/ical-feeds/:token.ics: a calendar feed's URL is its key, SPEC 11).
 */
const secretAfter = new Set(['integrations', 'heartbeats', 'a', 'ical-feeds']);
/** Query parameters that carry secrets (key, api_key, token, access_token, ticket, secret, password, signature, code). */
const secretParameter = /(^|[_-])(key|token|ticket|secret|password|passwd|signature|sig|code|session)$/i;

/**
 * The URL with its secrets replaced: the path segment after /integrations/, /heartbeats/, /a/
 * and /ical-feeds/ (whatever follows, so routes added later are covered), and the values of
 * query parameters named like a secret. Ids in the same position (DELETE /v1/integrations/:id,
 * DELETE /v1/schedules/:id/ical-feeds/:feed_id) are redacted too: the route pattern, logged
 * beside, says which route it was.
 */
export function redactUrl(url: string): string {
  const cut = url.search(/[?#]/);
  const path = cut === -1 ? url : url.slice(0, cut);
  const rest = cut === -1 ? '' : url.slice(cut);
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    if (secretAfter.has(segments[i - 1]!.toLowerCase()) && segments[i] !== '') segments[i] = REDACTED;
  }
  let tail = rest;
  if (rest.startsWith('?')) {
    const hash = rest.indexOf('#');
    const query = hash === -1 ? rest.slice(1) : rest.slice(1, hash);
    const fragment = hash === -1 ? '' : rest.slice(hash);
    tail = `?${query
      .split('&')
      .map((pair) => {
        const eq = pair.indexOf('=');
        if (eq === -1) return pair;
        let name = pair.slice(0, eq);
        try {
          name = decodeURIComponent(name.replaceAll('+', ' '));
        } catch {
          // a malformed escape: judge the raw name
        }
        return secretParameter.test(name) ? `${pair.slice(0, eq)}=${REDACTED}` : pair;
      })
      .join('&')}${fragment ? '#[redacted]' : ''}`;
  } else if (rest.startsWith('#')) {
    tail = '#[redacted]';
  }
  return segments.join('/') + tail;
}

interface LoggedRequest {
  method: string;
  url: string;
  ip?: string;
  host?: string;
  socket?: { remotePort?: number };
  routeOptions?: { url?: string };
}

/** Replaces Fastify's request serializer: no headers, the URL redacted, the route pattern added. */
function serializeRequest(request: LoggedRequest) {
  return {
    method: request.method,
    url: redactUrl(request.url),
    route: request.routeOptions?.url,
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

/** pino JSON logs (SPEC section 2) with secrets redacted wherever they appear in a log object. */
export function makeLogger(level: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: 'tocsin', pid: process.pid },
    serializers: { req: serializeRequest },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        'headers.cookie',
        'headers["set-cookie"]',
        'res.headers["set-cookie"]',
        '*.password',
        '*.key',
        '*.token',
        '*.ticket',
        '*.secret',
        '*.routing_key',
        'config.ADMIN_API_KEY',
        'config.DATABASE_URL',
        'config.SMS_AUTH_TOKEN',
        'config.PUSH_API_TOKEN',
        'config.WEBHOOK_SIGNING_SECRET',
      ],
      censor: REDACTED,
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

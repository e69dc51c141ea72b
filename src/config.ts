import { isIP } from 'node:net';
import Type, { type Static, type TSchema } from 'typebox';
import { Value } from 'typebox/value';

// SPEC section 1: configuration is environment variables only, validated at start. A bad value
// stops the process with a message that names the variable.

const Duration = Type.String({
  pattern: '^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h)?\\s*(,\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h)?\\s*)*$',
  description: 'a comma-separated list of durations such as 500ms,5s,2m',
});
const Url = (schemes: string) =>
  Type.String({ pattern: `^(${schemes})://`, description: `a URL starting with ${schemes.replaceAll('|', ' or ')}://` });
const Int = (min: number, max: number, fallback?: number) =>
  Type.Integer({ minimum: min, maximum: max, description: `a whole number from ${min} to ${max}`, ...(fallback === undefined ? {} : { default: fallback }) });
const Text = (description: string, options: object = {}) => Type.String({ minLength: 1, description, ...options });

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const OneOf = (values: string[]) =>
  Type.String({ pattern: `^(${values.join('|')})$`, description: `one of ${values.join(', ')}` });
const otlpProtocols = ['http/protobuf', 'http/json'];
const samplers = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];
// With tracing off these variables are not read (SPEC section 12), so they are not checked:
// an environment shared with other services may hold values another SDK understands.
const tracingOnly = new Set(['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_SERVICE_NAME', 'OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG']);

const EnvSchema = Type.Object({
  DATABASE_URL: Type.Optional(Url('postgres|postgresql')),
  HOST: Text('a host name or address to listen on', { default: '127.0.0.1' }),
  PORT: Int(0, 65_535, 8080),
  LOG_LEVEL: Type.String({ pattern: `^(${logLevels.join('|')})$`, default: 'info', description: `one of ${logLevels.join(', ')}` }),
  ADMIN_API_KEY: Type.Optional(Text('at least 16 characters', { minLength: 16 })),
  RATE_LIMIT_MAX: Int(1, 1_000_000, 100),
  RATE_LIMIT_WINDOW_SECONDS: Int(1, 86_400, 60),
  IDEMPOTENCY_TTL_HOURS: Int(1, 24 * 365, 24),
  RETRY_BACKOFF: { ...Duration, default: '5s,30s,120s' },
  CHANNEL_RATE_LIMIT_PER_SECOND: Int(1, 1_000_000, 100),
  WEBHOOK_SIGNING_SECRET: Type.Optional(
    Type.String({ pattern: '^whsec_[A-Za-z0-9+/=]{8,}$', description: 'whsec_ followed by a base64 secret' }),
  ),
  ALLOW_PRIVATE_TARGETS: Type.Boolean({ default: false, description: 'true or false' }),
  SMTP_URL: Type.Optional(Url('smtp|smtps')),
  EMAIL_FROM: Text('a sender address such as "Tocsin <tocsin@example.com>"', { default: 'Tocsin <tocsin@localhost>' }),
  SMS_API_URL: Type.Optional(Url('http|https')),
  SMS_ACCOUNT_SID: Type.Optional(Text('an account id')),
  SMS_AUTH_TOKEN: Type.Optional(Text('a token')),
  SMS_FROM: Type.Optional(Text('the sender number or id, such as +14155550100')),
  PUSH_API_URL: Type.Optional(Url('http|https')),
  PUSH_API_TOKEN: Type.Optional(Text('a token')),
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Url('http|https')),
  // SPEC section 12: read by the tracing SDK (src/adapters/telemetry/), checked here so that a
  // typo stops the process instead of silently exporting elsewhere or sampling everything.
  OTEL_EXPORTER_OTLP_PROTOCOL: Type.Optional(OneOf(otlpProtocols)),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: Type.Optional(OneOf(otlpProtocols)),
  OTEL_SERVICE_NAME: Type.Optional(Text('a service name')),
  OTEL_TRACES_SAMPLER: Type.Optional(OneOf(samplers)),
  OTEL_TRACES_SAMPLER_ARG: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'a sampling ratio from 0 to 1' })),
  CIRCUIT_BREAKER_HALF_OPEN_SECONDS: Int(1, 3600, 30),
  WORKER_BATCH_SIZE: Int(1, 1000, 200),
  WORKER_CONCURRENCY: Int(1, 64, 3),
  // SPEC section 4: what a delivery waits at most when a receiver's Retry-After asks for longer.
  RETRY_AFTER_MAX_SECONDS: Int(1, 86_400, 3600),
  // SPEC section 4: how often the sweep looks for notifications and escalation steps without a live job.
  SWEEP_INTERVAL_SECONDS: Int(1, 3600, 30),
  // SPEC section 4: notifications that ended longer ago than this are deleted with their attempts.
  NOTIFICATION_RETENTION_DAYS: Type.Number({ exclusiveMinimum: 0, maximum: 36_500, default: 90, description: 'a number of days above 0 (decimals allowed), at most 36500' }),
  // SPEC section 1: what an operator behind a proxy, or stopping the process, needs.
  PUBLIC_URL: Type.Optional(
    Type.String({ pattern: '^https?://[^/?#\\s]+/?$', description: 'an http(s) URL without a path, such as https://tocsin.example.com' }),
  ),
  TRUST_PROXY: Type.String({
    pattern: '^(true|false|\\d{1,2}|[0-9a-fA-F.:]+(/\\d{1,3})?(\\s*,\\s*[0-9a-fA-F.:]+(/\\d{1,3})?)*)$',
    default: 'false',
    description: 'false, true, a hop count such as 1, or a comma list of addresses or CIDRs such as 10.0.0.0/8,127.0.0.1',
  }),
  INTAKE_RATE_LIMIT_PER_MINUTE: Int(1, 1_000_000, 600),
  SHUTDOWN_TIMEOUT_SECONDS: Int(2, 3600, 25),
  // Issue 12 (SPEC section 7): the streams. A direct connection for LISTEN when DATABASE_URL is a
  // pooler; how long events are kept for replay; how often an idle SSE stream gets a comment line
  // (a WebSocket gets a ping every second beat).
  DATABASE_LISTEN_URL: Type.Optional(Url('postgres|postgresql')),
  // Named server-side statements for the statements run again and again (adapters/postgres/
  // prepared-statements.ts); false behind a pooler that cannot carry them (PgBouncer before 1.21).
  DATABASE_PREPARED_STATEMENTS: Type.Boolean({ default: true, description: 'true or false' }),
  EVENT_RETENTION_HOURS: Type.Number({ exclusiveMinimum: 0, maximum: 87_600, default: 24, description: 'a number of hours above 0 (decimals allowed, such as 0.01), at most 87600' }),
  // SPEC section 10: how long a session lasts without being used (each use slides it).
  SESSION_TTL_HOURS: Type.Number({ exclusiveMinimum: 0, maximum: 8760, default: 12, description: 'a number of hours above 0 (decimals allowed), at most 8760' }),
  STREAM_HEARTBEAT_SECONDS: Type.Number({ minimum: 0.05, maximum: 15, default: 15, description: 'a number of seconds from 0.05 to 15' }),
});

type Env = Static<typeof EnvSchema>;

export type Config = Omit<Env, 'RETRY_BACKOFF' | 'TRUST_PROXY' | 'PUBLIC_URL'> & {
  /** RETRY_BACKOFF parsed into milliseconds; the last value repeats. */
  RETRY_BACKOFF_MS: number[];
  /** TRUST_PROXY as Fastify's trustProxy option takes it: a boolean, a hop count or a list of CIDRs. */
  TRUST_PROXY: boolean | number | string[];
  /** PUBLIC_URL without its trailing slash; http://HOST:PORT when it is not set. */
  PUBLIC_URL: string;
};

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDurations(list: string): number[] {
  return list.split(',').map((part) => {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(part);
    if (!match) throw new ConfigError(`RETRY_BACKOFF: "${part}" is not a duration such as 500ms, 5s or 2m`);
    return Math.round(Number(match[1]) * units[match[2] ?? 's']!);
  });
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  // Each variable is checked on its own, so one message lists every bad variable at once.
  for (const [name, schema] of Object.entries(EnvSchema.properties) as [string, TSchema][]) {
    const raw = env[name];
    if (tracingOnly.has(name) && !env.OTEL_EXPORTER_OTLP_ENDPOINT) continue;
    if (raw === undefined || raw === '') {
      const fallback = Value.Default(schema, undefined);
      if (fallback !== undefined) values[name] = fallback;
      continue;
    }
    const value = Value.Convert(schema, raw);
    if (Value.Check(schema, value)) {
      values[name] = value;
    } else {
      const shown = /KEY|TOKEN|SECRET|URL|SID/.test(name) && name !== 'PUBLIC_URL' ? '(value hidden)' : JSON.stringify(raw);
      problems.push(`${name} must be ${(schema as { description?: string }).description ?? 'valid'}; got ${shown}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  const { RETRY_BACKOFF, TRUST_PROXY, PUBLIC_URL, ...rest } = values as Env;
  return {
    ...rest,
    RETRY_BACKOFF_MS: parseDurations(RETRY_BACKOFF),
    TRUST_PROXY: parseTrustProxy(TRUST_PROXY),
    PUBLIC_URL: (PUBLIC_URL ?? `http://${rest.HOST.includes(':') ? `[${rest.HOST}]` : rest.HOST}:${rest.PORT}`).replace(/\/$/, ''),
  };
}

/** TRUST_PROXY: false, true, a hop count, or addresses and CIDRs (each checked by node:net). */
export function parseTrustProxy(value: string): boolean | number | string[] {
  if (value === 'true' || value === 'false') return value === 'true';
  if (/^\d+$/.test(value)) return Number(value);
  const list = value.split(',').map((part) => part.trim());
  for (const entry of list) {
    const [address, prefix] = entry.split('/');
    const family = isIP(address!);
    const bits = family === 4 ? 32 : 128;
    if (family === 0 || (prefix !== undefined && !(Number(prefix) >= 0 && Number(prefix) <= bits))) {
      throw new ConfigError(`invalid configuration:\n  TRUST_PROXY must be false, true, a hop count or a comma list of addresses or CIDRs; "${entry}" is none of them`);
    }
  }
  return list;
}

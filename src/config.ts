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
});

type Env = Static<typeof EnvSchema>;

export type Config = Omit<Env, 'RETRY_BACKOFF'> & {
  /** RETRY_BACKOFF parsed into milliseconds; the last value repeats. */
  RETRY_BACKOFF_MS: number[];
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
      const shown = /KEY|TOKEN|SECRET|URL|SID/.test(name) ? '(value hidden)' : JSON.stringify(raw);
      problems.push(`${name} must be ${(schema as { description?: string }).description ?? 'valid'}; got ${shown}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  const { RETRY_BACKOFF, ...rest } = values as Env;
  return { ...rest, RETRY_BACKOFF_MS: parseDurations(RETRY_BACKOFF) };
}

import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit, { type FastifyRateLimitStore, type RateLimitOptions } from '@fastify/rate-limit';
import { DomainError } from '../../domain/errors.ts';
import type { RateLimitCounter } from '../postgres/rate-limit-store.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * An intake endpoint of SPEC section 6, authenticated by the key it carries: a request whose
     * key is unknown (404) counts against the client address's budget, like a 401.
     */
    intake?: boolean;
  }
}

const readMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

const tooMany = (message: string, limit: number, ttlMs: number) =>
  Object.assign(
    new DomainError('RATE_LIMIT_EXCEEDED', message, { limit, retry_after_seconds: Math.ceil(ttlMs / 1000) }),
    { statusCode: 429 },
  );

/** Whether a request spends the per-address budget of requests without a valid key. */
const guarded = (request: FastifyRequest) => !readMethods.has(request.method) || request.routeOptions.config?.intake === true;
const failedKey = (request: FastifyRequest, status: number) => status === 401 || (status === 404 && request.routeOptions.config?.intake === true);

/**
 * SPEC section 2, three budgets, all kept in PostgreSQL (see makeRateLimitCounter) so that they
 * hold across every API process, all answered 429 with Retry-After:
 * - writes, per API key, checked once authentication has named the key (preHandler);
 * - the intake endpoints, per integration or heartbeat key, INTAKE_RATE_LIMIT_PER_MINUTE (the
 *   routes opt in with `intakeRateLimit`), so that one flooded key does not starve the others
 *   behind the same proxy;
 * - requests without a valid key, per client address: every 401 (and every intake request with
 *   an unknown key) is counted, and the budget is checked before authentication, so a client
 *   guessing keys meets 429 however it guesses. At most one request per process in flight may
 *   pass the budget while its own answer is being counted.
 * @fastify/rate-limit does the bookkeeping and headers.
 */
export async function registerRateLimit(app: FastifyInstance, deps: { counter: RateLimitCounter; max: number; windowSeconds: number }) {
  const { counter } = deps;
  class PostgresStore implements FastifyRateLimitStore {
    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number, max: number) {
      counter.hit(key, timeWindow, max).then((result) => callback(null, result), (error: Error) => callback(error));
    }
    read(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number, max: number) {
      counter.read(key, timeWindow, max).then((result) => callback(null, result), (error: Error) => callback(error));
    }
    child(): FastifyRateLimitStore {
      return new PostgresStore();
    }
  }

  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: deps.max,
    timeWindow: deps.windowSeconds * 1000,
    store: PostgresStore,
    allowList: (request: FastifyRequest) => readMethods.has(request.method),
    keyGenerator: (request: FastifyRequest) => (request.principal ? `key:${request.principal.key_id}` : `ip:${request.ip}`),
    errorResponseBuilder: (_request, context) => tooMany(`too many write requests; retry in ${context.after}`, context.max, context.ttl),
  });

  const addressBudget = app.createRateLimit({
    max: deps.max,
    timeWindow: deps.windowSeconds * 1000,
    keyGenerator: (request: FastifyRequest) => `unauthenticated:${request.ip}`,
    allowList: () => false,
  });
  // Global hooks run before a route's own onRequest hooks, where authentication happens.
  app.addHook('onRequest', async (request, reply) => {
    if (!guarded(request)) return;
    const budget = await addressBudget(request, { increment: false });
    if (budget.isAllowed || !budget.isExceeded) return;
    reply.header('retry-after', String(budget.ttlInSeconds));
    // Thrown, so the route's own error handler answers (PagerDuty's shape on /v2/enqueue).
    throw tooMany(`too many requests without a valid key from this address; retry in ${budget.ttlInSeconds} seconds`, deps.max, budget.ttl);
  });
  app.addHook('onResponse', async (request, reply) => {
    if (guarded(request) && failedKey(request, reply.statusCode)) await addressBudget(request);
  });
}

/**
 * The route config of an intake endpoint (SPEC section 2): INTAKE_RATE_LIMIT_PER_MINUTE per key,
 * reads (a GET ping) included. Keys are counted by their hash, so the table never holds one.
 */
export function intakeRateLimit(perMinute: number, keyOf: (request: FastifyRequest) => string | undefined): { intake: true; rateLimit: RateLimitOptions } {
  return {
    intake: true,
    rateLimit: {
      max: perMinute,
      timeWindow: 60_000,
      allowList: () => false,
      keyGenerator: (request: FastifyRequest) => {
        const key = keyOf(request);
        return key ? `intake:${createHash('sha256').update(key).digest('base64url')}` : `intake-without-key:${request.ip}`;
      },
      errorResponseBuilder: (_request, context) => tooMany(`too many events for this key; at most ${context.max} a minute; retry in ${context.after}`, context.max, context.ttl),
    },
  };
}

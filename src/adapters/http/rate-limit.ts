import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit, { type FastifyRateLimitStore } from '@fastify/rate-limit';
import { DomainError } from '../../domain/errors.ts';
import type { Database } from '../postgres/database.ts';
import { makeRateLimitCounter } from '../postgres/rate-limit-store.ts';

const readMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Write endpoints are limited per API key, or per IP when unauthenticated (SPEC section 2).
 * @fastify/rate-limit does the bookkeeping; its store is a PostgreSQL table (see
 * makeRateLimitCounter), so the limit holds across every API process. The hook runs at preHandler, after authentication has named the key.
 */
export async function registerRateLimit(app: FastifyInstance, deps: { db: Database; max: number; windowSeconds: number }) {
  const counter = makeRateLimitCounter(deps.db);
  class PostgresStore implements FastifyRateLimitStore {
    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number, max: number) {
      counter.hit(key, timeWindow, max).then((result) => callback(null, result), (error: Error) => callback(error));
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
    errorResponseBuilder: (_request, context) =>
      Object.assign(
        new DomainError('RATE_LIMIT_EXCEEDED', `too many write requests; retry in ${context.after}`, {
          limit: context.max,
          retry_after_seconds: Math.ceil(context.ttl / 1000),
        }),
        { statusCode: 429 },
      ),
  });
}

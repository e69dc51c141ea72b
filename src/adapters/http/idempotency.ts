import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import stringify from 'safe-stable-stringify';
import { DomainError } from '../../domain/errors.ts';
import type { Transact, Tx } from '../../ports/transact.ts';
import { claimIdempotencyKey, recordIdempotentResponse } from '../postgres/idempotency-store.ts';

export interface Created {
  body: unknown;
  headers?: Record<string, string>;
}

const keyPattern = /^[\x21-\x7e]{1,255}$/;

/**
 * Runs a creating request under its Idempotency-Key (SPEC section 2). The key is claimed, the
 * resource created (by `within`, in the same transaction) and the response stored in one
 * transaction: a replay returns exactly what was committed, a different body under the same key is
 * 409, and concurrent duplicates queue on the key's row so exactly one of them creates anything.
 * Without a key the work runs in a transaction of its own, or as `alone` when the use case has a
 * cheaper way to run by itself (POST /v1/incidents: one statement).
 */
export function makeIdempotency(deps: { transact: Transact; ttlHours: number }) {
  return async function respond(
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    within: (tx: Tx) => Promise<Created>,
    alone?: () => Promise<Created>,
  ): Promise<FastifyReply> {
    const header = request.headers['idempotency-key'] ?? request.headers['x-idempotency-key'];
    if (header === undefined) {
      const created = alone ? await alone() : await deps.transact(within);
      return reply.code(status).headers(created.headers ?? {}).send(created.body);
    }
    const key = Array.isArray(header) ? header[0] : header;
    if (key === undefined || !keyPattern.test(key)) {
      throw new DomainError('VALIDATION_ERROR', 'Idempotency-Key must be 1 to 255 visible ASCII characters', [
        { field: 'headers.idempotency-key', message: 'must be 1 to 255 visible ASCII characters' },
      ]);
    }
    const scope = request.principal?.key_id ?? `ip:${request.ip}`;
    const requestHash = createHash('sha256')
      .update(`${request.method} ${request.url}\n${stringify(request.body ?? null)}`)
      .digest('hex');

    const outcome = await deps.transact(async (tx) => {
      const claim = await claimIdempotencyKey(tx, { scope, key, request_hash: requestHash, ttl_hours: deps.ttlHours });
      if (claim.kind === 'replay') {
        if (claim.request_hash !== requestHash) {
          throw new DomainError('IDEMPOTENCY_KEY_CONFLICT', 'this Idempotency-Key was already used with a different request; use a new key');
        }
        return { replayed: true, status: claim.status, body: claim.body, headers: claim.headers };
      }
      const created = await within(tx);
      const headers = created.headers ?? {};
      await recordIdempotentResponse(tx, { scope, key, status, body: created.body, headers });
      return { replayed: false, status, body: created.body, headers };
    });
    if (outcome.replayed) reply.header('idempotent-replayed', 'true');
    return reply.code(outcome.status).headers(outcome.headers).send(outcome.body);
  };
}

export type Idempotency = ReturnType<typeof makeIdempotency>;

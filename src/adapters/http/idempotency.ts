import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import stringify from 'safe-stable-stringify';
import { DomainError } from '../../domain/errors.ts';
import type { Transact } from '../../ports/unit-of-work.ts';
import type { Database } from '../postgres/database.ts';
import { claimIdempotencyKey, recordIdempotentResponse } from '../postgres/idempotency-store.ts';
import { translatePgError } from '../postgres/pg-errors.ts';
import type { PgBoss } from 'pg-boss';
import { joinTransaction, makeTransact } from '../postgres/unit-of-work.ts';
import { executor } from '../postgres/transact.ts';
import type { Transact as NewTransact, Tx } from '../../ports/transact.ts';

export interface Created {
  body: unknown;
  headers?: Record<string, string>;
}

const keyPattern = /^[\x21-\x7e]{1,255}$/;

/** The key, the scope it belongs to (the API key, else the client address) and the request's hash. */
function keyOf(request: FastifyRequest, header: string | string[]) {
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
  return { key, scope, requestHash };
}

/**
 * Runs a creating request under its Idempotency-Key (SPEC section 2). The key is claimed, the
 * resource created and the response stored in one transaction: a replay returns exactly what was
 * committed, a different body under the same key is 409, and concurrent duplicates queue on the
 * key's row so exactly one of them creates anything. Without a key the work just runs.
 */
export function makeIdempotency(deps: { db: Database; boss: PgBoss; ttlHours: number }) {
  const transact = makeTransact(deps.db, deps.boss);

  return async function respond(
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    work: (transact: Transact) => Promise<Created>,
  ): Promise<FastifyReply> {
    const header = request.headers['idempotency-key'] ?? request.headers['x-idempotency-key'];
    if (header === undefined) {
      const created = await work(transact);
      return reply.code(status).headers(created.headers ?? {}).send(created.body);
    }
    const { key, scope, requestHash } = keyOf(request, header);

    let outcome: { replayed: boolean; status: number; body: unknown; headers: Record<string, string> };
    try {
      outcome = await deps.db.transaction().execute(async (trx) => {
        const claim = await claimIdempotencyKey(trx, { scope, key, request_hash: requestHash, ttl_hours: deps.ttlHours });
        if (claim.kind === 'replay') {
          if (claim.request_hash !== requestHash) {
            throw new DomainError(
              'IDEMPOTENCY_KEY_CONFLICT',
              'this Idempotency-Key was already used with a different request; use a new key',
            );
          }
          return { replayed: true, status: claim.status, body: claim.body, headers: claim.headers };
        }
        const created = await work(joinTransaction(trx, deps.boss));
        const headers = created.headers ?? {};
        await recordIdempotentResponse(trx, { scope, key, status, body: created.body, headers });
        return { replayed: false, status, body: created.body, headers };
      });
    } catch (error) {
      throw translatePgError(error);
    }
    if (outcome.replayed) reply.header('idempotent-replayed', 'true');
    return reply.code(outcome.status).headers(outcome.headers).send(outcome.body);
  };
}

export type Idempotency = ReturnType<typeof makeIdempotency>;

/**
 * The same, for use cases of the new shape (issue 11; the schedules of SPEC 11 first): `work`
 * gets the transaction the key is claimed in and creates through a use case's `...In(tx, ...)`
 * function, so the resource, its changes and the stored response commit together.
 */
export function makeTxIdempotency(deps: { transact: NewTransact; ttlHours: number }) {
  return async function respond(request: FastifyRequest, reply: FastifyReply, status: number, work: (tx: Tx) => Promise<Created>): Promise<FastifyReply> {
    const header = request.headers['idempotency-key'] ?? request.headers['x-idempotency-key'];
    if (header === undefined) {
      const created = await deps.transact(work);
      return reply.code(status).headers(created.headers ?? {}).send(created.body);
    }
    const { key, scope, requestHash } = keyOf(request, header);
    const outcome = await deps.transact(async (tx) => {
      const claim = await claimIdempotencyKey(executor(tx), { scope, key, request_hash: requestHash, ttl_hours: deps.ttlHours });
      if (claim.kind === 'replay') {
        if (claim.request_hash !== requestHash) {
          throw new DomainError('IDEMPOTENCY_KEY_CONFLICT', 'this Idempotency-Key was already used with a different request; use a new key');
        }
        return { replayed: true, status: claim.status, body: claim.body, headers: claim.headers };
      }
      const created = await work(tx);
      const headers = created.headers ?? {};
      await recordIdempotentResponse(executor(tx), { scope, key, status, body: created.body, headers });
      return { replayed: false, status, body: created.body, headers };
    });
    if (outcome.replayed) reply.header('idempotent-replayed', 'true');
    return reply.code(outcome.status).headers(outcome.headers).send(outcome.body);
  };
}

export type TxIdempotency = ReturnType<typeof makeTxIdempotency>;

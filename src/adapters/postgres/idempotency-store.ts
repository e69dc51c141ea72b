import { sql } from 'kysely';
import type { Tx } from '../../ports/transact.ts';
import type { Executor } from './database.ts';
import { executor } from './transact.ts';

export type Claim =
  | { kind: 'claimed' }
  | { kind: 'replay'; request_hash: string; status: number; body: unknown; headers: Record<string, string> };

/**
 * Claims (scope, key) inside the caller's transaction. A concurrent duplicate's INSERT waits on
 * the first one's uncommitted row, so it sees either the committed response (replay) or, if the
 * first rolled back, nothing (and claims the key itself): exactly one request does the work.
 * An expired record is taken over as if it were absent.
 */
export async function claimIdempotencyKey(
  tx: Tx,
  input: { scope: string; key: string; request_hash: string; ttl_hours: number },
): Promise<Claim> {
  const db = executor(tx);
  const expiresAt = sql<Date>`now() + make_interval(hours => ${input.ttl_hours})`;
  const inserted = await db
    .insertInto('idempotency_keys')
    .values({ scope: input.scope, key: input.key, request_hash: input.request_hash, expires_at: expiresAt })
    .onConflict((oc) =>
      oc.columns(['scope', 'key']).doUpdateSet({
        request_hash: input.request_hash,
        response_status: null,
        response_body: null,
        response_headers: null,
        created_at: sql`now()`,
        expires_at: expiresAt,
      }).where('idempotency_keys.expires_at', '<=', sql<Date>`now()`),
    )
    .returning('key')
    .executeTakeFirst();
  if (inserted) return { kind: 'claimed' };

  const existing = await db
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'response_status', 'response_body', 'response_headers'])
    .where('scope', '=', input.scope)
    .where('key', '=', input.key)
    .executeTakeFirstOrThrow();
  return {
    kind: 'replay',
    request_hash: existing.request_hash,
    status: existing.response_status ?? 200,
    body: existing.response_body,
    headers: existing.response_headers ?? {},
  };
}

export async function recordIdempotentResponse(
  tx: Tx,
  input: { scope: string; key: string; status: number; body: unknown; headers: Record<string, string> },
): Promise<void> {
  await executor(tx)
    .updateTable('idempotency_keys')
    .set({
      response_status: input.status,
      response_body: JSON.stringify(input.body ?? null),
      response_headers: JSON.stringify(input.headers),
    })
    .where('scope', '=', input.scope)
    .where('key', '=', input.key)
    .execute();
}

export async function deleteExpiredIdempotencyKeys(db: Executor): Promise<number> {
  const result = await db.deleteFrom('idempotency_keys').where('expires_at', '<=', sql<Date>`now()`).executeTakeFirst();
  return Number(result.numDeletedRows);
}

import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Scope } from '../../domain/api-key.ts';
import { decodeCursor, page, type PageFilter } from './cursor.ts';
import type { Tx } from '../../ports/transact.ts';
import { executor } from './transact.ts';

// Keys are `tsn_` and 32 random bytes; only a SHA-256 hash is stored (a key is high-entropy, so
// a slow password hash buys nothing and would cost every request).

export const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex');

export function generateKey(): string {
  return `tsn_${randomBytes(32).toString('base64url')}`;
}

export interface ApiKeyRecord {
  id: string;
  name: string;
  scopes: Scope[];
  key_prefix: string;
  created_at: Date;
}

const columns = ['id', 'name', 'scopes', 'key_prefix', 'created_at'] as const;

export async function createApiKey(tx: Tx, input: { name: string; scopes: Scope[] }) {
  const key = generateKey();
  const row = await executor(tx)
    .insertInto('api_keys')
    .values({ name: input.name, scopes: input.scopes, key_hash: hashKey(key), key_prefix: key.slice(0, 8) })
    .returning(columns)
    .executeTakeFirstOrThrow();
  return { ...(row as ApiKeyRecord), key };
}

export async function findActiveKeyByHash(tx: Tx, keyHash: string): Promise<ApiKeyRecord | undefined> {
  const row = await executor(tx)
    .selectFrom('api_keys')
    .select(columns)
    .where('key_hash', '=', keyHash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return row as ApiKeyRecord | undefined;
}

/** The active keys, oldest first, a page at a time (SPEC section 2). */
export async function listApiKeys(tx: Tx, filter: PageFilter) {
  let query = executor(tx).selectFrom('api_keys').select(columns).where('revoked_at', 'is', null);
  if (filter.cursor) {
    const after = decodeCursor(filter.cursor);
    query = query.where(sql<boolean>`(created_at, id) > (${after.created_at}, ${after.id}::uuid)`);
  }
  const rows = await query.orderBy('created_at', 'asc').orderBy('id', 'asc').limit(filter.limit + 1).execute();
  return page(rows as ApiKeyRecord[], filter.limit);
}

/** Revokes rather than deletes, so the audit trail of what a key did keeps its name. */
export async function revokeApiKey(tx: Tx, id: string): Promise<boolean> {
  const result = await executor(tx)
    .updateTable('api_keys')
    .set({ revoked_at: sql`now()` })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function countActiveKeys(tx: Tx): Promise<number> {
  const row = await executor(tx)
    .selectFrom('api_keys')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('revoked_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Which of these key ids are still active (SPEC section 7: a stream ends when its key is revoked). */
export async function activeKeyIds(tx: Tx, ids: readonly string[]): Promise<Set<string>> {
  const uuids = ids.filter((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id));
  if (uuids.length === 0) return new Set();
  const rows = await executor(tx).selectFrom('api_keys').select('id').where('id', 'in', uuids).where('revoked_at', 'is', null).execute();
  return new Set(rows.map((row) => row.id));
}

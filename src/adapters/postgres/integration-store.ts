import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Integration, IntegrationType } from '../../domain/alert.ts';
import type { IncidentStatus } from '../../domain/incident.ts';
import type { Tx } from '../../ports/transact.ts';
import { hashKey } from './api-key-store.ts';
import { decodeCursor, page, type PageFilter } from './cursor.ts';
import { executor } from './transact.ts';

/**
 * Integration and heartbeat keys: 32 random hex characters (128 bits), the length of a PagerDuty
 * routing key, which some senders check. Stored as a SHA-256 hash, like API keys, and shown once.
 */
export function generateIntakeKey(): { key: string; key_hash: string; key_prefix: string } {
  const key = randomBytes(16).toString('hex');
  return { key, key_hash: hashKey(key), key_prefix: key.slice(0, 8) };
}

const columns = ['id', 'type', 'name', 'team_id', 'key_prefix', 'created_at'] as const;

/** The active integration of this type whose key this is; a revoked or unknown key finds nothing. */
export async function findIntegrationByKey(tx: Tx, key: string, type: IntegrationType): Promise<Integration | undefined> {
  const row = await executor(tx)
    .selectFrom('integrations')
    .select(columns)
    .where('key_hash', '=', hashKey(key))
    .where('type', '=', type)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return row as Integration | undefined;
}

/** The active integrations, oldest first, a page at a time (SPEC section 2). */
export async function listIntegrations(tx: Tx, filter: PageFilter) {
  let query = executor(tx).selectFrom('integrations').select(columns).where('revoked_at', 'is', null);
  if (filter.cursor) {
    const after = decodeCursor(filter.cursor);
    query = query.where(sql<boolean>`(created_at, id) > (${after.created_at}, ${after.id}::uuid)`);
  }
  const rows = await query.orderBy('created_at', 'asc').orderBy('id', 'asc').limit(filter.limit + 1).execute();
  return page(rows as Integration[], filter.limit);
}

/** Revokes rather than deletes: its incidents keep their link, and its key stops working at once. */
export async function revokeIntegration(tx: Tx, id: string): Promise<boolean> {
  const result = await executor(tx)
    .updateTable('integrations')
    .set({ revoked_at: sql`now()` })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function insertIntegration(
  tx: Tx,
  row: { type: IntegrationType; name: string; team_id: string | null; key_hash: string; key_prefix: string },
): Promise<Integration> {
  return (await executor(tx).insertInto('integrations').values(row).returning(columns).executeTakeFirstOrThrow()) as Integration;
}

/**
 * Serialises every event for one (integration, dedup_key) until the transaction ends, so two
 * triggers racing for a new key open one incident, not two. A transaction-scoped advisory lock on a
 * 64-bit hash of the pair: a hash collision only makes two keys wait for each other, never lets
 * two events for one key pass together.
 */
export async function lockAlertKey(tx: Tx, integrationId: string, dedupKey: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`${integrationId}\n${dedupKey}`}, 0))`.execute(executor(tx));
}

/**
 * The integration's unresolved incident with this dedup_key, if any. Locked, and re-checked once
 * the lock is held: an incident someone resolved meanwhile no longer matches, so the event opens a
 * new one instead of adding to a resolved one. NO KEY UPDATE, like every incident lock.
 */
export async function findOpenAlertIncident(tx: Tx, integrationId: string, dedupKey: string): Promise<{ id: string; status: IncidentStatus } | undefined> {
  const row = await executor(tx)
    .selectFrom('incidents')
    .select(['id', 'status'])
    .where('integration_id', '=', integrationId)
    .where('dedup_key', '=', dedupKey)
    .where('status', '<>', 'resolved')
    .forNoKeyUpdate()
    .executeTakeFirst();
  return row as { id: string; status: IncidentStatus } | undefined;
}

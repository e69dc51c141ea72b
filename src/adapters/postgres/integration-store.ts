import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Integration, IntegrationType } from '../../domain/alert.ts';
import type { IncidentStatus } from '../../domain/incident.ts';
import type { AlertWrites } from '../../ports/intake-writes.ts';
import { hashKey } from './api-key-store.ts';
import { decodeCursor, page, type PageFilter } from './cursor.ts';
import type { Executor } from './database.ts';

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
export async function findIntegrationByKey(db: Executor, key: string, type: IntegrationType): Promise<Integration | undefined> {
  const row = await db
    .selectFrom('integrations')
    .select(columns)
    .where('key_hash', '=', hashKey(key))
    .where('type', '=', type)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return row as Integration | undefined;
}

/** The active integrations, oldest first, a page at a time (SPEC section 2). */
export async function listIntegrations(db: Executor, filter: PageFilter) {
  let query = db.selectFrom('integrations').select(columns).where('revoked_at', 'is', null);
  if (filter.cursor) {
    const after = decodeCursor(filter.cursor);
    query = query.where(sql<boolean>`(created_at, id) > (${after.created_at}, ${after.id}::uuid)`);
  }
  const rows = await query.orderBy('created_at', 'asc').orderBy('id', 'asc').limit(filter.limit + 1).execute();
  return page(rows as Integration[], filter.limit);
}

/** Revokes rather than deletes: its incidents keep their link, and its key stops working at once. */
export async function revokeIntegration(db: Executor, id: string): Promise<boolean> {
  const result = await db
    .updateTable('integrations')
    .set({ revoked_at: sql`now()` })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export function makeAlertWrites(db: Executor): AlertWrites {
  return {
    async insertIntegration(row) {
      return (await db.insertInto('integrations').values(row).returning(columns).executeTakeFirstOrThrow()) as Integration;
    },
    async lockKey(integrationId, dedupKey) {
      // A transaction-scoped advisory lock on a 64-bit hash of the pair: a hash collision only
      // makes two keys wait for each other, never lets two events for one key pass together.
      await sql`select pg_advisory_xact_lock(hashtextextended(${`${integrationId}\n${dedupKey}`}, 0))`.execute(db);
    },
    async findOpen(integrationId, dedupKey) {
      const row = await db
        .selectFrom('incidents')
        .select(['id', 'status'])
        .where('integration_id', '=', integrationId)
        .where('dedup_key', '=', dedupKey)
        .where('status', '<>', 'resolved')
        // Locked, and re-checked once the lock is held: an incident someone resolved meanwhile
        // no longer matches, so the event opens a new one instead of adding to a resolved one.
        // NO KEY UPDATE, like every incident lock (see incident-store's lock).
        .forNoKeyUpdate()
        .executeTakeFirst();
      return row as { id: string; status: IncidentStatus } | undefined;
    },
    async attach(incidentId, link) {
      await db
        .updateTable('incidents')
        .set({ integration_id: link.integration_id, details: JSON.stringify(link.details) })
        .where('id', '=', incidentId)
        .execute();
    },
    async setDetails(incidentId, details, at) {
      await db
        .updateTable('incidents')
        .set({ details: JSON.stringify(details), version: sql`version + 1`, updated_at: at })
        .where('id', '=', incidentId)
        .execute();
    },
  };
}

import { sql } from 'kysely';
import type { Heartbeat } from '../../domain/heartbeat.ts';
import type { HeartbeatWrites } from '../../ports/intake-writes.ts';
import { hashKey } from './api-key-store.ts';
import { decodeCursor, page, type PageFilter } from './cursor.ts';
import type { Executor } from './database.ts';

const columns = [
  'id', 'name', 'interval_seconds', 'team_id', 'key_prefix', 'status', 'last_ping_at', 'due_at', 'incident_id', 'created_at', 'updated_at',
] as const;

export async function getHeartbeat(db: Executor, id: string): Promise<Heartbeat | undefined> {
  return (await db.selectFrom('heartbeats').select(columns).where('id', '=', id).executeTakeFirst()) as Heartbeat | undefined;
}

export async function findHeartbeatByKey(db: Executor, key: string): Promise<Heartbeat | undefined> {
  const row = await db.selectFrom('heartbeats').select(columns).where('key_hash', '=', hashKey(key)).executeTakeFirst();
  return row as Heartbeat | undefined;
}

/** Heartbeats, oldest first, a page at a time (SPEC section 2). */
export async function listHeartbeats(db: Executor, filter: PageFilter) {
  let query = db.selectFrom('heartbeats').select(columns);
  if (filter.cursor) {
    const after = decodeCursor(filter.cursor);
    query = query.where(sql<boolean>`(created_at, id) > (${after.created_at}, ${after.id}::uuid)`);
  }
  const rows = await query.orderBy('created_at', 'asc').orderBy('id', 'asc').limit(filter.limit + 1).execute();
  return page(rows as Heartbeat[], filter.limit);
}

export async function deleteHeartbeat(db: Executor, id: string): Promise<boolean> {
  const result = await db.deleteFrom('heartbeats').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Heartbeats that are up but overdue by more than `graceSeconds`: their check job was lost. */
export async function overdueHeartbeats(db: Executor, graceSeconds: number): Promise<{ id: string; due_at: Date }[]> {
  return db
    .selectFrom('heartbeats')
    .select(['id', 'due_at'])
    .where('status', '=', 'up')
    .where('due_at', '<', sql<Date>`clock_timestamp() - make_interval(secs => ${graceSeconds})`)
    .limit(1000)
    .execute();
}

export function makeHeartbeatWrites(db: Executor): HeartbeatWrites {
  return {
    async insert(row) {
      const created = await db
        .insertInto('heartbeats')
        .values({ ...row, due_at: sql`clock_timestamp() + make_interval(secs => ${row.interval_seconds})` })
        .returning(columns)
        .executeTakeFirstOrThrow();
      return created as Heartbeat;
    },
    async lock(id) {
      const row = await db
        .selectFrom('heartbeats')
        .select(columns)
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst();
      if (!row) return undefined;
      // Read after the lock is held, so that a ping that waited for a check sees the time it got in.
      const { now } = await sql<{ now: Date }>`select clock_timestamp() as now`.execute(db).then((r) => r.rows[0]!);
      return { heartbeat: row as Heartbeat, now };
    },
    async update(id, changes) {
      return (await db
        .updateTable('heartbeats')
        .set({ ...changes, updated_at: sql`clock_timestamp()` })
        .where('id', '=', id)
        .returning(columns)
        .executeTakeFirstOrThrow()) as Heartbeat;
    },
  };
}

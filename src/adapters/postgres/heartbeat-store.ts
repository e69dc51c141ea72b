import { sql } from 'kysely';
import type { Heartbeat } from '../../domain/heartbeat.ts';
import type { Tx } from '../../ports/transact.ts';
import { hashKey } from './api-key-store.ts';
import { decodeCursor, page, type PageFilter } from './cursor.ts';
import type { Executor } from './database.ts';
import { executor } from './transact.ts';

export interface NewHeartbeatRow {
  name: string;
  interval_seconds: number;
  team_id: string | null;
  key_hash: string;
  key_prefix: string;
}

const columns = [
  'id', 'name', 'interval_seconds', 'team_id', 'key_prefix', 'status', 'last_ping_at', 'due_at', 'incident_id', 'created_at', 'updated_at',
] as const;

export async function getHeartbeat(tx: Tx, id: string): Promise<Heartbeat | undefined> {
  return (await executor(tx).selectFrom('heartbeats').select(columns).where('id', '=', id).executeTakeFirst()) as Heartbeat | undefined;
}

export async function findHeartbeatByKey(tx: Tx, key: string): Promise<Heartbeat | undefined> {
  const row = await executor(tx).selectFrom('heartbeats').select(columns).where('key_hash', '=', hashKey(key)).executeTakeFirst();
  return row as Heartbeat | undefined;
}

/** Heartbeats, oldest first, a page at a time (SPEC section 2). */
export async function listHeartbeats(tx: Tx, filter: PageFilter) {
  let query = executor(tx).selectFrom('heartbeats').select(columns);
  if (filter.cursor) {
    const after = decodeCursor(filter.cursor);
    query = query.where(sql<boolean>`(created_at, id) > (${after.created_at}, ${after.id}::uuid)`);
  }
  const rows = await query.orderBy('created_at', 'asc').orderBy('id', 'asc').limit(filter.limit + 1).execute();
  return page(rows as Heartbeat[], filter.limit);
}

export async function deleteHeartbeat(tx: Tx, id: string): Promise<boolean> {
  const result = await executor(tx).deleteFrom('heartbeats').where('id', '=', id).executeTakeFirst();
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

/** Inserts a heartbeat due one interval after now (the database's clock). */
export async function insertHeartbeat(tx: Tx, row: NewHeartbeatRow): Promise<Heartbeat> {
  const created = await executor(tx)
    .insertInto('heartbeats')
    .values({ ...row, due_at: sql`clock_timestamp() + make_interval(secs => ${row.interval_seconds})` })
    .returning(columns)
    .executeTakeFirstOrThrow();
  return created as Heartbeat;
}

/**
 * Reads and row-locks a heartbeat, with the database's clock: deadlines are compared with the one
 * clock every API and worker process shares, which is also the clock pg-boss schedules by. The
 * clock is read after the lock is held, so a ping that waited for a check sees the time it got in.
 */
export async function lockHeartbeat(tx: Tx, id: string): Promise<{ heartbeat: Heartbeat; now: Date } | undefined> {
  const db = executor(tx);
  const row = await db.selectFrom('heartbeats').select(columns).where('id', '=', id).forUpdate().executeTakeFirst();
  if (!row) return undefined;
  const { now } = await sql<{ now: Date }>`select clock_timestamp() as now`.execute(db).then((r) => r.rows[0]!);
  return { heartbeat: row as Heartbeat, now };
}

export async function updateHeartbeat(
  tx: Tx,
  id: string,
  changes: Partial<Pick<Heartbeat, 'status' | 'last_ping_at' | 'due_at' | 'incident_id'>>,
): Promise<Heartbeat> {
  return (await executor(tx)
    .updateTable('heartbeats')
    .set({ ...changes, updated_at: sql`clock_timestamp()` })
    .where('id', '=', id)
    .returning(columns)
    .executeTakeFirstOrThrow()) as Heartbeat;
}

import { sql } from 'kysely';
import { DomainError } from '../../domain/errors.ts';
import type { StoredOverride } from '../../domain/schedule.ts';
import type { Tx } from '../../ports/transact.ts';
import { decodeKeyCursor, pageBy } from './cursor.ts';
import { executor } from './transact.ts';

// SPEC section 11: a schedule's overrides, as plain functions taking the transaction first.

const columns = ['id', 'schedule_id', 'user_id', 'start_at as start', 'end_at as end', 'created_by', 'created_at'] as const;

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const badCursor = () => new DomainError('VALIDATION_ERROR', 'cursor is not one this API gave out', [
  { field: 'cursor', message: 'must be a next_cursor value from a previous page' },
]);

export interface NewOverrideRow {
  schedule_id: string;
  user_id: string;
  start: Date;
  end: Date;
  created_by: string;
}

/**
 * Inserts an override. The caller holds the schedule's row lock (`lockSchedule`), so the
 * overrides of a schedule are added one at a time, and `created_at` is made strictly greater
 * than every earlier one's: "the override created last wins" (SPEC 11) then holds to the
 * millisecond, even for two overrides added within one.
 */
export async function insertOverride(tx: Tx, row: NewOverrideRow): Promise<StoredOverride> {
  const { rows } = await sql<StoredOverride>`
    insert into schedule_overrides (schedule_id, user_id, start_at, end_at, created_by, created_at)
    select ${row.schedule_id}, ${row.user_id}, ${row.start}, ${row.end}, ${row.created_by},
           greatest(now(), max(created_at) + interval '1 millisecond')
    from schedule_overrides where schedule_id = ${row.schedule_id}
    returning id, schedule_id, user_id, start_at as start, end_at as "end", created_by, created_at`.execute(executor(tx));
  return rows[0]!;
}

/** Deletes an override of that schedule; undefined when there is none. */
export async function deleteOverride(tx: Tx, scheduleId: string, overrideId: string): Promise<StoredOverride | undefined> {
  return executor(tx)
    .deleteFrom('schedule_overrides')
    .where('schedule_id', '=', scheduleId)
    .where('id', '=', overrideId)
    .returning(columns)
    .executeTakeFirst();
}

/**
 * A schedule's overrides in start order, a page at a time; with `since` and/or `until`, only
 * those overlapping the window (ending after `since`, starting before `until`).
 */
export async function listOverrides(
  tx: Tx,
  scheduleId: string,
  filter: { since?: Date | undefined; until?: Date | undefined; limit: number; cursor?: string | undefined },
) {
  let query = executor(tx).selectFrom('schedule_overrides').select(columns).where('schedule_id', '=', scheduleId);
  if (filter.since) query = query.where('end_at', '>', filter.since);
  if (filter.until) query = query.where('start_at', '<', filter.until);
  if (filter.cursor) {
    const [start, id] = decodeKeyCursor(filter.cursor, ['integer', 'string']);
    // A forged cursor must not reach the driver as an invalid Date or a malformed uuid.
    if (!uuidPattern.test(id) || Math.abs(start) > 8.64e15) throw badCursor();
    query = query.where(sql<boolean>`(start_at, id) > (${new Date(start)}, ${id}::uuid)`);
  }
  const rows = await query.orderBy('start_at').orderBy('id').limit(filter.limit + 1).execute();
  return pageBy(rows, filter.limit, (row) => [row.start.getTime(), row.id]);
}

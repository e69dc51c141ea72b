import { sql, type ExpressionBuilder } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type { Layer, Schedule, StoredOverride } from '../../domain/schedule.ts';
import type { Tx } from '../../ports/transact.ts';
import { decodeCursor, page } from './cursor.ts';
import type { DB } from './schema.ts';
import { executor } from './transact.ts';

// SPEC section 11: schedules, as plain functions taking the transaction first (STYLE). A
// schedule's layers are jsonb on its row (migrations/2026-11-29T20-00_schedules.ts says why).
// The reads a computation needs (a schedule with the overrides around a window) are one
// statement each, so they see one snapshot without a transaction.

const columns = ['id', 'name', 'time_zone', 'team_id', 'layers', 'version', 'created_by', 'created_at', 'updated_at'] as const;

interface ScheduleRow {
  id: string;
  name: string;
  time_zone: string;
  team_id: string | null;
  layers: unknown;
  version: number;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

const toSchedule = (row: ScheduleRow): Schedule => ({ ...row, layers: row.layers as Layer[] });

export interface NewScheduleRow {
  name: string;
  time_zone: string;
  team_id: string | null;
  /** Validated by the domain (`validateSchedule`) and with references checked. */
  layers: Layer[];
  created_by: string;
}

export async function insertSchedule(tx: Tx, row: NewScheduleRow): Promise<Schedule> {
  const inserted = await executor(tx)
    .insertInto('schedules')
    .values({ ...row, layers: JSON.stringify(row.layers) })
    .returning(columns)
    .executeTakeFirstOrThrow();
  return toSchedule(inserted);
}

export async function getSchedule(tx: Tx, id: string): Promise<Schedule | undefined> {
  const row = await executor(tx).selectFrom('schedules').select(columns).where('id', '=', id).executeTakeFirst();
  return row && toSchedule(row);
}

/** Reads and row-locks a schedule until the transaction ends (a PUT, a DELETE, a new override). */
export async function lockSchedule(tx: Tx, id: string): Promise<Schedule | undefined> {
  const row = await executor(tx).selectFrom('schedules').select(columns).where('id', '=', id).forUpdate().executeTakeFirst();
  return row && toSchedule(row);
}

export async function listSchedules(tx: Tx, filter: { team_id?: string | undefined; limit: number; cursor?: string | undefined }) {
  let query = executor(tx).selectFrom('schedules').select(columns);
  if (filter.team_id) query = query.where('team_id', '=', filter.team_id);
  if (filter.cursor) {
    const after = decodeCursor(filter.cursor);
    query = query.where(sql<boolean>`(created_at, id) < (${after.created_at}, ${after.id}::uuid)`);
  }
  const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit + 1).execute();
  const result = page(rows, filter.limit);
  return { data: result.data.map(toSchedule), next_cursor: result.next_cursor };
}

/** PUT: name, zone, team and layers replaced, the version bumped (the next ETag). */
export async function updateSchedule(tx: Tx, id: string, changes: Omit<NewScheduleRow, 'created_by'>): Promise<Schedule> {
  const updated = await executor(tx)
    .updateTable('schedules')
    .set({ ...changes, layers: JSON.stringify(changes.layers), version: sql`version + 1`, updated_at: sql`now()` })
    .where('id', '=', id)
    .returning(columns)
    .executeTakeFirstOrThrow();
  return toSchedule(updated);
}

/** Deletes a schedule with its overrides and feeds (ON DELETE CASCADE). */
export async function deleteSchedule(tx: Tx, id: string): Promise<boolean> {
  const result = await executor(tx).deleteFrom('schedules').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

// ---- A schedule with the overrides a computation over [since, until) needs, in one statement.

/** What `finalSchedule` and its kin need of a stored schedule: its rules and the overrides around the window. */
export interface ScheduleWithOverrides {
  schedule: Schedule;
  overrides: StoredOverride[];
}

interface OverrideJson {
  id: string;
  schedule_id: string;
  user_id: string;
  start: string;
  end: string;
  created_by: string;
  created_at: string;
}

/** The overrides of the row `s` overlapping [since, until), as a JSON array column. */
function overridesIn(since: Date, until: Date) {
  return (eb: ExpressionBuilder<DB & { s: DB['schedules'] }, 's'>) =>
    jsonArrayFrom(
      eb.selectFrom('schedule_overrides as o')
        .select(['o.id', 'o.schedule_id', 'o.user_id', 'o.start_at as start', 'o.end_at as end', 'o.created_by', 'o.created_at'])
        .whereRef('o.schedule_id', '=', 's.id')
        .where('o.end_at', '>', since)
        .where('o.start_at', '<', until)
        .orderBy('o.created_at'),
    ).as('overrides');
}

// jsonb renders timestamps as text; a Date reads them back to the millisecond they were stored at.
const toOverride = (o: OverrideJson): StoredOverride => ({
  ...o,
  start: new Date(o.start),
  end: new Date(o.end),
  created_at: new Date(o.created_at),
});

const withOverrides = (row: ScheduleRow & { overrides: unknown }): ScheduleWithOverrides => {
  const { overrides, ...schedule } = row;
  return { schedule: toSchedule(schedule), overrides: (overrides as OverrideJson[]).map(toOverride) };
};

const scheduleColumns = columns.map((c) => `s.${c}` as const);

/** One schedule with the overrides overlapping [since, until). */
export async function scheduleWithOverrides(tx: Tx, id: string, since: Date, until: Date): Promise<ScheduleWithOverrides | undefined> {
  const row = await executor(tx)
    .selectFrom('schedules as s')
    .select([...scheduleColumns, overridesIn(since, until)])
    .where('s.id', '=', id)
    .executeTakeFirst();
  return row && withOverrides(row);
}

/** Several schedules (those that exist), each with the overrides overlapping [since, until). */
export async function schedulesWithOverrides(tx: Tx, ids: readonly string[], since: Date, until: Date): Promise<ScheduleWithOverrides[]> {
  if (ids.length === 0) return [];
  const rows = await executor(tx)
    .selectFrom('schedules as s')
    .select([...scheduleColumns, overridesIn(since, until)])
    .where('s.id', 'in', [...new Set(ids)])
    .execute();
  return rows.map(withOverrides);
}

/**
 * Every schedule a user can be on call in during [since, until): those whose layers name the
 * user, and those where an override of the user overlaps the window; each with all its overrides
 * overlapping the window (another user's override can cut the user's turns).
 */
export async function schedulesOfUser(tx: Tx, userId: string, since: Date, until: Date): Promise<ScheduleWithOverrides[]> {
  const rows = await executor(tx)
    .selectFrom('schedules as s')
    .select([...scheduleColumns, overridesIn(since, until)])
    // A union of ids, not an OR: with OR the planner walks every schedule and tests its layers.
    .where('s.id', 'in', (eb) =>
      eb.selectFrom('schedules')
        .select('id')
        // The GIN expression index of the migration answers this containment test.
        .where(sql<boolean>`jsonb_path_query_array(layers, '$[*].user_ids[*]') @> jsonb_build_array(${userId}::text)`)
        .union(eb.selectFrom('schedule_overrides')
          .select('schedule_id as id')
          .where('user_id', '=', userId)
          .where('end_at', '>', since)
          .where('start_at', '<', until)))
    .orderBy('s.created_at')
    .orderBy('s.id')
    .execute();
  return rows.map(withOverrides);
}

/** Which of these ids are schedules. FOR KEY SHARE: a schedule named by a change being made cannot be deleted under it. */
export async function existingSchedules(tx: Tx, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await executor(tx).selectFrom('schedules').select('id').where('id', 'in', ids).forKeyShare().execute();
  return rows.map((r) => r.id);
}

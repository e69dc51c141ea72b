import { sql } from 'kysely';
import type { Executor } from './database.ts';

// SPEC section 7: the change feed. Every change a client can see is a row of `changes`, appended
// in the transaction that made the change; readers follow `id > last` up to the settled horizon
// (migrations/2026-11-29T10-00_changes.ts explains the lock that makes that safe).

/**
 * The same key as in the migrations: writers take it shared, and the horizon waits for the
 * transactions holding it (migrations/2026-11-30T01-00_changes-horizon.ts).
 */
const FEED_LOCK = 7_414_391_001;

export const CHANGES_CHANNEL = 'tocsin_changes';

export interface NewChange {
  type: string;
  data: unknown;
}

export interface Change {
  id: number;
  type: string;
  at: Date;
  data: unknown;
}

// PostgreSQL refuses the escape \u0000 that JSON.stringify writes for a NUL character wherever it
// turns JSON into text (jsonb, ->>), and the feed's payloads were jsonb until
// migrations/2026-11-30T08-00_changes-json.ts. What clients see of a change must never make the
// change itself fail, nor a query of the feed, so a NUL becomes U+FFFD (an escaped
// backslash before "u0000" is text, not an escape, and stays).
const nulEscape = /(?<!\\)((?:\\\\)*)\\u0000/g;
const toJson = (data: unknown): string => {
  const json = JSON.stringify(data) ?? 'null';
  return json.includes('\\u0000') ? json.replace(nulEscape, '$1\\ufffd') : json;
};

/**
 * The common table expressions that append changes, for a statement of their own or as part of
 * another one (a one-statement unit of work writes its changes in its own statement, see
 * src/adapters/postgres/transact.ts). The shared lock is taken in the same statement, before the
 * identity column hands out ids, and held until the transaction ends. The ids are in the CTE
 * `appended_changes`.
 */
export function appendChangesCtes(changes: readonly NewChange[]) {
  return sql`
    feed_lock as materialized (select pg_advisory_xact_lock_shared(${sql.lit(FEED_LOCK)})),
    appended_changes as (
      insert into changes (type, data)
      select c.type, c.data
      from feed_lock, unnest(${changes.map((c) => c.type)}::text[], ${changes.map((c) => toJson(c.data))}::json[]) with ordinality as c(type, data, n)
      order by c.n
      returning id
    )`;
}

/**
 * The same, for changes a statement builds itself from the rows it writes (a CTE named in
 * `rowsSql` that yields `type` and `data` columns): what a client sees is then exactly what the
 * statement did, whichever rows its guards let through, in one round trip.
 */
export function appendChangesFromCtes(rowsSql: ReturnType<typeof sql>) {
  return sql`
    feed_lock as materialized (select pg_advisory_xact_lock_shared(${sql.lit(FEED_LOCK)})),
    appended_changes as (
      insert into changes (type, data)
      select c.type, c.data from feed_lock, (${rowsSql}) as c(type, data)
      returning id
    )`;
}

/** An ISO-8601 UTC timestamp as JSON.stringify writes it, from a timestamptz(3), in SQL. */
export const isoSql = (column: ReturnType<typeof sql.ref>) =>
  sql`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

function appendChangesQuery(changes: readonly NewChange[]) {
  return sql<{ ids: string[] }>`
    with ${appendChangesCtes(changes)}
    select coalesce(array_agg(id::text order by id), '{}') as ids from appended_changes`;
}

/**
 * Appends changes in order and returns their ids, increasing (not always consecutive: other
 * sessions draw from the same identity at the same time).
 */
export async function appendChanges(db: Executor, changes: readonly NewChange[]): Promise<number[]> {
  if (changes.length === 0) return [];
  const { rows } = await appendChangesQuery(changes).execute(db);
  return (rows[0]?.ids ?? []).map(Number);
}

/**
 * The settled horizon: every id up to it belongs to a transaction that has ended. Waits for the
 * appenders in flight when it is asked (their commit takes a millisecond or two), never for other
 * transactions, and makes no writer wait.
 */
export async function settledHorizon(db: Executor): Promise<number> {
  const { rows } = await sql<{ horizon: string }>`select tocsin_changes_horizon()::text as horizon`.execute(db);
  return Number(rows[0]!.horizon);
}

/** The newest id any committed transaction appended, without waiting (a cheap "anything new?"). */
export async function newestChangeId(db: Executor): Promise<number> {
  const { rows } = await sql<{ newest: string }>`select coalesce(max(id), 0)::text as newest from changes`.execute(db);
  return Number(rows[0]!.newest);
}

/** The oldest id still kept, or undefined when the feed is empty. */
export async function oldestChangeId(db: Executor): Promise<number | undefined> {
  const { rows } = await sql<{ oldest: string | null }>`select min(id)::text as oldest from changes`.execute(db);
  return rows[0]?.oldest == null ? undefined : Number(rows[0].oldest);
}

/** Changes with after < id <= upTo, oldest first, at most `limit`. */
export async function readChanges(db: Executor, after: number, upTo: number, limit: number): Promise<Change[]> {
  // pg hands bigint columns over as strings; ids stay far below 2^53.
  const { rows } = await sql<{ id: string; type: string; at: Date; data: unknown }>`
    select id, type, at, data from changes
    where id > ${after} and id <= ${upTo}
    order by id
    limit ${limit}`.execute(db);
  return rows.map((row) => ({ id: Number(row.id), type: row.type, at: row.at, data: row.data }));
}

/**
 * EVENT_RETENTION_HOURS: deletes what is older than the cutoff, a bounded batch at a time so no
 * statement holds locks for long. Returns how many rows went. Each batch records, in the same
 * statement, the newest id it deleted in change_retention.pruned_through (issue 12): a stream
 * asked to replay from below it starts with `event: reset` (SPEC section 7).
 */
export async function deleteChangesBefore(db: Executor, cutoff: Date, batch = 5000): Promise<number> {
  let removed = 0;
  for (;;) {
    const { rows } = await sql<{ n: number }>`
      with deleted as (
        delete from changes where id in (select id from changes where at < ${cutoff} order by id limit ${batch})
        returning id
      ), marked as (
        update change_retention set pruned_through = greatest(pruned_through, (select max(id) from deleted))
        where exists (select 1 from deleted)
      )
      select count(*)::int as n from deleted`.execute(db);
    const count = rows[0]?.n ?? 0;
    removed += count;
    if (count < batch) return removed;
  }
}

/**
 * A page of a replay (SPEC section 7): changes with after < id <= upTo, oldest first, and, read in
 * the same snapshot, how far retention has deleted. When `prunedThrough` > `after`, changes right
 * after `after` may be gone, and the reader must say so (`event: reset`) instead of skipping them.
 */
export async function readChangesForReplay(db: Executor, after: number, upTo: number, limit: number): Promise<{ changes: Change[]; prunedThrough: number }> {
  const { rows } = await sql<{ id: string | null; type: string; at: Date; data: unknown; pruned_through: string }>`
    select c.id, c.type, c.at, c.data, r.pruned_through::text as pruned_through
    from change_retention r
    left join lateral (
      select id, type, at, data from changes where id > ${after} and id <= ${upTo} order by id limit ${limit}
    ) c on true
    order by c.id`.execute(db);
  const prunedThrough = Number(rows[0]?.pruned_through ?? 0);
  const changes = rows.filter((row) => row.id !== null).map((row) => ({ id: Number(row.id), type: row.type, at: row.at, data: row.data }));
  return { changes, prunedThrough };
}

/** Tells listeners that changes up to `newest` committed. Carries only the id (SPEC section 7). */
export async function notifyChanges(db: Executor, newest: number): Promise<void> {
  await sql`select pg_notify(${CHANGES_CHANNEL}, ${String(newest)})`.execute(db);
}

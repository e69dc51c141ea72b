import { sql } from 'kysely';
import type { Incident, IncidentChanges, IncidentStatus, Severity, TimelineEvent, TimelineEventType } from '../../domain/incident.ts';
import type { Tx } from '../../ports/transact.ts';
import { appendChangesCtes, type NewChange } from './change-store.ts';
import { decodeCursor, decodeKeyCursor, page, pageBy, type PageFilter } from './cursor.ts';
import type { Executor } from './database.ts';
import { executor } from './transact.ts';

// Incidents and their timelines (SPEC section 3): plain functions, the transaction first.

const incidentColumns = [
  'id', 'title', 'description', 'severity', 'status', 'team_id', 'assignee_id', 'source', 'dedup_key',
  'created_by', 'notification_status', 'version', 'created_at', 'updated_at', 'acknowledged_at', 'resolved_at',
  'integration_id', 'details',
] as const;

const eventColumns = ['id', 'incident_id', 'type', 'actor', 'data', 'created_at'] as const;

/**
 * SPEC section 10: who `actor` is, in words: a person's name for `user:<id>`, a key's name for
 * `api_key:<name>`, null for Tocsin itself. Looked up when read (users are never deleted, and a
 * renamed person shows under their current name), so writing the timeline costs nothing more.
 */
const actorName = sql<string | null>`case
  when actor like 'user:%' then (select u.name from users u where u.id::text = substr(actor, 6))
  when actor like 'api_key:%' then substr(actor, 9) end`.as('actor_name');

export interface NewTimelineEvent {
  incident_id: string;
  type: TimelineEventType;
  actor: string;
  data: Record<string, unknown>;
}

export async function getIncident(tx: Tx, id: string): Promise<Incident | undefined> {
  const row = await executor(tx).selectFrom('incidents').select(incidentColumns).where('id', '=', id).executeTakeFirst();
  return row as Incident | undefined;
}

export interface IncidentFilter {
  status?: IncidentStatus;
  severity?: Severity;
  team_id?: string;
  q?: string;
  from?: Date;
  to?: Date;
  limit: number;
  cursor?: string;
}

// A text search whose matches reach this many is read newest first through the (created_at, id)
// index, filtering as it goes; one with fewer reads its matches through the full-text index and
// sorts them. The planner chooses between the two from an estimate of how many rows match, and
// for words it has no statistics on that estimate is far off: with 1,000,000 incidents a word
// found nowhere walked the whole table (4.6 s) and a two-word phrase matching 8,333 read and
// sorted all of them (1.1 s). A bounded count through the full-text index (no table reads on a
// vacuumed table) tells which one it is.
const SEARCH_WALK_FROM = 1000;

export async function listIncidents(tx: Tx, filter: IncidentFilter) {
  const db = executor(tx);
  let query = db.selectFrom('incidents');
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.severity) query = query.where('severity', '=', filter.severity);
  if (filter.team_id) query = query.where('team_id', '=', filter.team_id);
  if (filter.from) query = query.where('created_at', '>=', filter.from);
  if (filter.to) query = query.where('created_at', '<', filter.to);
  if (filter.cursor) {
    const after = decodeCursor(filter.cursor);
    query = query.where(sql<boolean>`(created_at, id) < (${after.created_at}, ${after.id}::uuid)`);
  }
  let rows: Incident[];
  if (!filter.q) {
    rows = (await query.select(incidentColumns).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit + 1).execute()) as Incident[];
  } else {
    // websearch syntax: words are ANDed, "quoted phrases" and -exclusions work as users expect.
    const matches = sql<boolean>`search @@ websearch_to_tsquery('simple', ${filter.q})`;
    const counted = await sql<{ n: number }>`
      select count(*)::int as n from (select 1 from incidents where ${matches} limit ${SEARCH_WALK_FROM}) m`.execute(db);
    if (counted.rows[0]!.n >= SEARCH_WALK_FROM) {
      // Many matches: newest first, filtering as it goes (OFFSET 0 keeps the search condition out
      // of the ordered scan, so the planner cannot trade it for the full-text index).
      const recent = query.select([...incidentColumns, 'search']).orderBy('created_at', 'desc').orderBy('id', 'desc').offset(0).as('recent');
      rows = (await db.selectFrom(recent).select(incidentColumns).where(matches).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit + 1).execute()) as Incident[];
    } else {
      // Few matches: all of them through the full-text index, then the newest.
      rows = (await db
        .with((cte) => cte('found').materialized(), () => query.select(incidentColumns).where(matches))
        .selectFrom('found')
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(filter.limit + 1)
        .execute()) as Incident[];
    }
  }
  return page(rows, filter.limit);
}

/** An incident's timeline, oldest first, a page at a time, in the order events were written (seq). */
export async function listTimeline(tx: Tx, incidentId: string, filter: PageFilter) {
  let query = executor(tx).selectFrom('incident_events').select([...eventColumns, 'seq', actorName]).where('incident_id', '=', incidentId);
  if (filter.cursor) {
    const [seq] = decodeKeyCursor(filter.cursor, ['integer']);
    query = query.where(sql<boolean>`seq > ${seq}`);
  }
  const rows = await query.orderBy('seq', 'asc').limit(filter.limit + 1).execute();
  return pageBy(rows as (TimelineEvent & { seq: number | string })[], filter.limit, (row) => [Number(row.seq)]);
}

export interface NewIncident {
  incident: Incident;
  /** Its first timeline entry, `incident.created`. */
  created: { actor: string; data: Record<string, unknown> };
}

/** Inserts a new incident (every column decided by the caller) and its first timeline entry. */
export async function insertIncident(tx: Tx, row: NewIncident): Promise<void> {
  await insertIncidentsQuery([row], []).execute(executor(tx));
}

/**
 * Inserts new incidents, their first timeline entries and their `incident.created` changes in ONE
 * statement, which PostgreSQL makes atomic without BEGIN and COMMIT: the intake of POST
 * /v1/incidents without paging (SPEC section 9, ingest; see incident-intake.ts). Returns the
 * newest change id, to notify once committed.
 */
export async function insertIncidentsWithChanges(db: Executor, rows: readonly (NewIncident & { change: unknown })[]): Promise<number> {
  const changes = rows.map((r) => ({ type: 'incident.created', data: r.change }));
  const { rows: [result] } = await insertIncidentsQuery(rows, changes).execute(db);
  return Number(result!.newest_change);
}

// One text whatever the number of rows (the columns go as arrays), so it is prepared once.
function insertIncidentsQuery(rows: readonly NewIncident[], changes: readonly NewChange[]) {
  const column = <T>(pick: (incident: Incident) => T) => rows.map((r) => pick(r.incident));
  return sql<{ newest_change: string | null }>`
    with ${changes.length > 0 ? sql`${appendChangesCtes(changes)},` : sql``}
    i as (
      insert into incidents (id, title, description, severity, status, team_id, assignee_id, source, dedup_key, created_by,
                             notification_status, version, created_at, updated_at, integration_id, details)
      select * from unnest(
        ${column((i) => i.id)}::uuid[], ${column((i) => i.title)}::text[], ${column((i) => i.description)}::text[],
        ${column((i) => i.severity)}::text[], ${column((i) => i.status)}::text[], ${column((i) => i.team_id)}::uuid[],
        ${column((i) => i.assignee_id)}::uuid[], ${column((i) => i.source)}::text[], ${column((i) => i.dedup_key)}::text[],
        ${column((i) => i.created_by)}::text[], ${column((i) => i.notification_status)}::text[], ${column((i) => i.version)}::int[],
        ${column((i) => i.created_at)}::timestamptz[], ${column((i) => i.updated_at)}::timestamptz[],
        ${column((i) => i.integration_id)}::uuid[], ${column((i) => (i.details === null ? null : JSON.stringify(i.details)))}::jsonb[])
      returning id
    ), e as (
      insert into incident_events (incident_id, type, actor, data)
      select u.id, 'incident.created', u.actor, u.data
      from unnest(${column((i) => i.id)}::uuid[], ${rows.map((r) => r.created.actor)}::text[],
                  ${rows.map((r) => JSON.stringify(r.created.data))}::jsonb[]) as u(id, actor, data)
    )
    select ${changes.length > 0 ? sql`(select max(id) from appended_changes)::text` : sql`null`} as newest_change`;
}

/**
 * Reads and locks an incident until the transaction ends. FOR NO KEY UPDATE: an incident's id
 * never changes, and this lock must not wait for (or deadlock with) transactions that only hold
 * KEY SHARE on it by inserting rows that reference it (notifications, timeline entries).
 */
export async function lockIncident(tx: Tx, id: string): Promise<Incident | undefined> {
  const row = await executor(tx).selectFrom('incidents').select(incidentColumns).where('id', '=', id).forNoKeyUpdate().executeTakeFirst();
  return row as Incident | undefined;
}

export async function updateIncident(
  tx: Tx,
  id: string,
  changes: IncidentChanges & { status?: IncidentStatus; acknowledged_at?: Date; resolved_at?: Date; details?: Record<string, unknown> },
  at: Date,
): Promise<Incident> {
  const { details, ...rest } = changes;
  return (await executor(tx)
    .updateTable('incidents')
    .set({ ...rest, ...(details === undefined ? {} : { details: JSON.stringify(details) }), version: sql`version + 1`, updated_at: at })
    .where('id', '=', id)
    .returning(incidentColumns)
    .executeTakeFirstOrThrow()) as Incident;
}

export async function deleteIncident(tx: Tx, id: string): Promise<boolean> {
  const result = await executor(tx).deleteFrom('incidents').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Which of these ids are incidents. */
export async function existingIncidents(tx: Tx, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await executor(tx).selectFrom('incidents').select('id').where('id', 'in', ids).execute();
  return rows.map((r) => r.id);
}

export async function appendTimeline(tx: Tx, event: NewTimelineEvent): Promise<TimelineEvent> {
  const row = await executor(tx)
    .insertInto('incident_events')
    .values({ ...event, data: JSON.stringify(event.data) })
    .returning([...eventColumns, actorName])
    .executeTakeFirstOrThrow();
  return row as TimelineEvent;
}

export async function appendTimelineMany(tx: Tx, events: NewTimelineEvent[]): Promise<void> {
  if (events.length === 0) return;
  await executor(tx)
    .insertInto('incident_events')
    .values(events.map((event) => ({ ...event, data: JSON.stringify(event.data) })))
    .execute();
}

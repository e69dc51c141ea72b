import { CompiledQuery, sql } from 'kysely';
import type { Incident, IncidentStatus, Severity, TimelineEvent } from '../../domain/incident.ts';
import type { IncidentWrites, TimelineWrites } from '../../ports/unit-of-work.ts';
import { decodeCursor, decodeKeyCursor, page, pageBy, type PageFilter } from './cursor.ts';
import type { Executor } from './database.ts';

const incidentColumns = [
  'id', 'title', 'description', 'severity', 'status', 'team_id', 'assignee_id', 'source', 'dedup_key',
  'created_by', 'notification_status', 'version', 'created_at', 'updated_at', 'acknowledged_at', 'resolved_at',
  'integration_id', 'details',
] as const;

const insertIncidentSql = `
  with i as (
    insert into incidents (title, description, severity, team_id, assignee_id, source, dedup_key, created_by)
    values ($1, $2, $3, $4, $5, $6, $7, $8)
    returning ${incidentColumns.join(', ')}
  ), e as (
    insert into incident_events (incident_id, type, actor, data)
    select id, 'incident.created', $9, $10::jsonb from i
  )
  select * from i`;

const eventColumns = ['id', 'incident_id', 'type', 'actor', 'data', 'created_at'] as const;

export async function getIncident(db: Executor, id: string): Promise<Incident | undefined> {
  const row = await db.selectFrom('incidents').select(incidentColumns).where('id', '=', id).executeTakeFirst();
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

export async function listIncidents(db: Executor, filter: IncidentFilter) {
  let query = db.selectFrom('incidents').select(incidentColumns);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.severity) query = query.where('severity', '=', filter.severity);
  if (filter.team_id) query = query.where('team_id', '=', filter.team_id);
  if (filter.from) query = query.where('created_at', '>=', filter.from);
  if (filter.to) query = query.where('created_at', '<', filter.to);
  if (filter.q) {
    // websearch syntax: words are ANDed, "quoted phrases" and -exclusions work as users expect.
    query = query.where(sql<boolean>`search @@ websearch_to_tsquery('simple', ${filter.q})`);
  }
  if (filter.cursor) {
    const after = decodeCursor(filter.cursor);
    query = query.where(sql<boolean>`(created_at, id) < (${after.created_at}, ${after.id}::uuid)`);
  }
  const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit + 1).execute();
  return page(rows as Incident[], filter.limit);
}

/** An incident's timeline, oldest first, a page at a time, in the order events were written (seq). */
export async function listTimeline(db: Executor, incidentId: string, filter: PageFilter) {
  let query = db.selectFrom('incident_events').select([...eventColumns, 'seq']).where('incident_id', '=', incidentId);
  if (filter.cursor) {
    const [seq] = decodeKeyCursor(filter.cursor, ['integer']);
    query = query.where(sql<boolean>`seq > ${seq}`);
  }
  const rows = await query.orderBy('seq', 'asc').limit(filter.limit + 1).execute();
  return pageBy(rows as (TimelineEvent & { seq: number | string })[], filter.limit, (row) => [Number(row.seq)]);
}

export function makeIncidentWrites(db: Executor): IncidentWrites {
  return {
    async insert(row, created) {
      // The hottest write of the API (POST /v1/incidents), so its SQL is built once: a
      // data-modifying CTE writes the incident and its incident.created event in one round trip.
      const { rows } = await db.executeQuery<Incident>(
        CompiledQuery.raw(insertIncidentSql, [
          row.title, row.description, row.severity, row.team_id, row.assignee_id, row.source, row.dedup_key, row.created_by,
          created.actor, JSON.stringify(created.data),
        ]),
      );
      return rows[0]!;
    },
    async lock(id) {
      // FOR NO KEY UPDATE: an incident's id never changes, and this lock must not wait for (or
      // deadlock with) transactions that only hold KEY SHARE on it by inserting rows that
      // reference it (notifications, timeline entries). See refreshIncidentSummaries.
      const row = await db.selectFrom('incidents').select(incidentColumns).where('id', '=', id).forNoKeyUpdate().executeTakeFirst();
      return row as Incident | undefined;
    },
    async update(id, changes, at) {
      return (await db
        .updateTable('incidents')
        .set({ ...changes, version: sql`version + 1`, updated_at: at })
        .where('id', '=', id)
        .returning(incidentColumns)
        .executeTakeFirstOrThrow()) as Incident;
    },
    async remove(id) {
      const result = await db.deleteFrom('incidents').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
    async existing(ids) {
      if (ids.length === 0) return [];
      const rows = await db.selectFrom('incidents').select('id').where('id', 'in', ids).execute();
      return rows.map((r) => r.id);
    },
  };
}

export function makeTimelineWrites(db: Executor): TimelineWrites {
  return {
    async append(event) {
      const row = await db
        .insertInto('incident_events')
        .values({ ...event, data: JSON.stringify(event.data) })
        .returning(eventColumns)
        .executeTakeFirstOrThrow();
      return row as TimelineEvent;
    },
    async appendMany(events) {
      await db
        .insertInto('incident_events')
        .values(events.map((event) => ({ ...event, data: JSON.stringify(event.data) })))
        .execute();
    },
  };
}

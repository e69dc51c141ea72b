import { sql } from 'kysely';
import type { Attempt, Channel, Notification, NotificationStatus, Priority } from '../../domain/notification.ts';
import type { Tx } from '../../ports/transact.ts';
import { appendChangesFromCtes, isoSql } from './change-store.ts';
import { decodeCursor, page } from './cursor.ts';
import type { Executor } from './database.ts';
import { executor, noteAppended } from './transact.ts';

// Notifications (SPEC section 4): plain functions, the transaction first. Every write of a
// notification's status appends its `notification.updated` change in the same statement (SPEC
// section 7), built from the rows the statement really changed.

export const notificationColumns = [
  'id', 'channel', 'recipient', 'user_id', 'subject', 'content', 'content_type', 'priority', 'status', 'scheduled_at', 'max_retries',
  'retry_count', 'attempt_count', 'batch_id', 'incident_id', 'metadata', 'job_id', 'last_error', 'sent_at', 'created_at', 'updated_at',
] as const;

export type NotificationWithAttempts = Notification & { attempts: Attempt[] };

export interface NewNotificationRow {
  id: string;
  channel: Channel;
  recipient: string;
  subject: string | null;
  content: string;
  priority: Priority;
  status: 'scheduled' | 'queued';
  scheduled_at: Date | null;
  max_retries: number;
  batch_id: string | null;
  incident_id: string | null;
  metadata: Record<string, unknown>;
  job_id: string;
  /** The user it was sent to by user_id or paged (SPEC section 5). */
  user_id?: string | null;
  /** 'html' when rendered from an email template; plain text otherwise. */
  content_type?: 'text' | 'html';
}

/**
 * The CTEs that append one `notification.updated` change for the rows of the CTE `changed`
 * (`{id,status,channel,incident_id,retry_count,updated_at}`, or `{items:[...]}` for several),
 * and nothing when it changed no row. The statement's final select can read the change's id
 * from `appended_changes`.
 */
export function notificationChangeCtes() {
  // json, not jsonb: built as text and stored as such (migrations/2026-11-30T08-00_changes-json.ts).
  const item = sql`json_build_object('id', c.id, 'status', c.status, 'channel', c.channel, 'incident_id', c.incident_id,
    'retry_count', c.retry_count, 'updated_at', ${isoSql(sql.ref('c.updated_at'))})`;
  return appendChangesFromCtes(sql`
    select 'notification.updated',
           case when count(*) = 1 then (json_agg(${item}))->0 else json_build_object('items', json_agg(${item} order by c.id)) end
    from changed c
    having count(*) > 0`);
}

/** Runs a statement written as `with changed as (... returning ...), <change CTEs> select ...` and notes its change. */
export async function runWithChange<R extends { newest_change: string | null }>(tx: Tx, query: ReturnType<typeof sql<R>>): Promise<R[]> {
  const { rows } = await query.execute(executor(tx));
  return notingChange(tx, rows);
}

/** Notes the change a statement of runWithChange's shape appended, from its rows; returns them. */
export function notingChange<R extends { newest_change: string | null }>(tx: Tx, rows: R[]): R[] {
  const newest = rows.find((row) => row.newest_change !== null)?.newest_change;
  if (newest) noteAppended(tx, Number(newest));
  return rows;
}

const returning = sql.join(notificationColumns.map((c) => sql.ref(c)));

async function withAttempts(db: Executor, rows: Notification[]): Promise<NotificationWithAttempts[]> {
  if (rows.length === 0) return [];
  const attempts = await db
    .selectFrom('notification_attempts')
    .select(['notification_id', 'attempt', 'at', 'outcome', 'status_code', 'error', 'duration_ms'])
    .where('notification_id', 'in', rows.map((r) => r.id))
    .orderBy('notification_id')
    .orderBy('attempt')
    .execute();
  const byId = new Map<string, Attempt[]>();
  for (const { notification_id, ...attempt } of attempts) {
    const list = byId.get(notification_id) ?? [];
    list.push(attempt as Attempt);
    byId.set(notification_id, list);
  }
  return rows.map((row) => ({ ...row, attempts: byId.get(row.id) ?? [] }));
}

export async function getNotification(tx: Tx, id: string): Promise<NotificationWithAttempts | undefined> {
  const db = executor(tx);
  const row = await db.selectFrom('notifications').select(notificationColumns).where('id', '=', id).executeTakeFirst();
  return row ? (await withAttempts(db, [row as Notification]))[0] : undefined;
}

export interface NotificationFilter {
  status?: NotificationStatus;
  channel?: Channel;
  priority?: Priority;
  batch_id?: string;
  incident_id?: string;
  from?: Date;
  to?: Date;
  limit: number;
  cursor?: string;
}

export async function listNotifications(tx: Tx, filter: NotificationFilter) {
  const db = executor(tx);
  let query = db.selectFrom('notifications').select(notificationColumns);
  // Status and priority as literals, not parameters: a prepared statement's generic plan then still
  // knows which value it reads, and for any but `sent` (`normal`) can use the status (priority)
  // index that leaves that common value out (migrations/2026-11-30T11-00_unsent-status-index.ts,
  // 2026-11-30T12-00_uncommon-priority-index.ts). Both are among a few known values.
  if (filter.status) query = query.where('status', '=', sql.lit(filter.status));
  if (filter.channel) query = query.where('channel', '=', filter.channel);
  if (filter.priority) query = query.where('priority', '=', sql.lit(filter.priority));
  if (filter.batch_id) query = query.where('batch_id', '=', filter.batch_id);
  if (filter.incident_id) query = query.where('incident_id', '=', filter.incident_id);
  if (filter.from) query = query.where('created_at', '>=', filter.from);
  if (filter.to) query = query.where('created_at', '<', filter.to);
  if (filter.cursor) {
    const after = decodeCursor(filter.cursor);
    query = query.where(sql<boolean>`(created_at, id) < (${after.created_at}, ${after.id}::uuid)`);
  }
  const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit + 1).execute();
  const result = page(rows as Notification[], filter.limit);
  return { data: await withAttempts(db, result.data), next_cursor: result.next_cursor };
}

export async function getBatchCounts(tx: Tx, batchId: string): Promise<Record<string, number> | undefined> {
  const rows = await executor(tx)
    .selectFrom('notifications')
    .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
    .where('batch_id', '=', batchId)
    .groupBy('status')
    .execute();
  if (rows.length === 0) return undefined;
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/** GET /v1/metrics: delivery figures per channel over the last day, from the rows themselves. */
export async function channelFigures(tx: Tx) {
  const { rows } = await sql<{ channel: Channel; sent: string; failed: string; pending: string; avg_latency_ms: number | null }>`
    select channel,
           count(*) filter (where status = 'sent') as sent,
           count(*) filter (where status = 'failed') as failed,
           count(*) filter (where status in ('scheduled', 'queued', 'sending')) as pending,
           avg(extract(epoch from sent_at - greatest(created_at, coalesce(scheduled_at, created_at))) * 1000)
             filter (where status = 'sent') as avg_latency_ms
    -- Two index-backed halves instead of one OR, which would scan the whole table on every call.
    from (
      select * from notifications where created_at > now() - interval '1 day'
      union all
      select * from notifications
      where status in ('scheduled', 'queued', 'sending') and created_at <= now() - interval '1 day'
    ) recent
    group by channel`.execute(executor(tx));
  return rows.map((r) => ({ channel: r.channel, sent: Number(r.sent), failed: Number(r.failed), pending: Number(r.pending), avg_latency_ms: r.avg_latency_ms === null ? null : Number(r.avg_latency_ms) }));
}

/** Inserts notifications (one statement for a whole batch) with their `notification.updated` change. */
export async function insertNotifications(tx: Tx, rows: NewNotificationRow[]): Promise<Notification[]> {
  if (rows.length === 0) return [];
  const column = <T>(pick: (row: NewNotificationRow) => T) => rows.map(pick);
  const inserted = await runWithChange<Notification & { newest_change: string | null }>(tx, sql`
    with changed as (
      insert into notifications (id, channel, recipient, user_id, subject, content, content_type, priority, status, scheduled_at,
                                 max_retries, batch_id, incident_id, metadata, job_id)
      select * from unnest(
        ${column((r) => r.id)}::uuid[], ${column((r) => r.channel)}::text[], ${column((r) => r.recipient)}::text[],
        ${column((r) => r.user_id ?? null)}::uuid[], ${column((r) => r.subject)}::text[], ${column((r) => r.content)}::text[],
        ${column((r) => r.content_type ?? 'text')}::text[], ${column((r) => r.priority)}::text[], ${column((r) => r.status)}::text[],
        ${column((r) => r.scheduled_at)}::timestamptz[], ${column((r) => r.max_retries)}::int[], ${column((r) => r.batch_id)}::uuid[],
        ${column((r) => r.incident_id)}::uuid[], ${column((r) => JSON.stringify(r.metadata))}::jsonb[], ${column((r) => r.job_id)}::uuid[])
      returning ${returning}
    ),
    ${notificationChangeCtes()}
    select changed.*, (select max(id)::text from appended_changes) as newest_change from changed`);
  return inserted.map(({ newest_change: _, ...row }) => row as Notification);
}

/** Reads and locks a notification (NO KEY UPDATE, like incidents: see lockIncident). */
export async function lockNotification(tx: Tx, id: string): Promise<Notification | undefined> {
  return (await executor(tx).selectFrom('notifications').select(notificationColumns).where('id', '=', id).forNoKeyUpdate().executeTakeFirst()) as
    | Notification
    | undefined;
}

/** The incident a notification belongs to: undefined when there is no such notification. */
export async function notificationIncident(tx: Tx, id: string): Promise<string | null | undefined> {
  const row = await executor(tx).selectFrom('notifications').select('incident_id').where('id', '=', id).executeTakeFirst();
  return row ? row.incident_id : undefined;
}

/** Changes a notification's state (cancel, redrive, a held page cancelled), with its change. */
export async function updateNotification(
  tx: Tx,
  id: string,
  changes: Partial<Pick<Notification, 'status' | 'job_id' | 'retry_count' | 'last_error'>>,
): Promise<Notification> {
  const set = sql.join(Object.entries(changes).map(([column, value]) => sql`${sql.ref(column)} = ${value}`));
  const [row] = await runWithChange<Notification & { newest_change: string | null }>(tx, sql`
    with changed as (
      update notifications set ${set}, updated_at = now() where id = ${id} returning ${returning}
    ),
    ${notificationChangeCtes()}
    select changed.*, (select max(id)::text from appended_changes) as newest_change from changed`);
  if (!row) throw new Error(`notification ${id} vanished while locked`);
  const { newest_change: _, ...notification } = row;
  return notification as Notification;
}

import { sql } from 'kysely';
import { summarize, type Attempt, type Channel, type Notification, type NotificationStatus, type Priority } from '../../domain/notification.ts';
import type { NotificationWrites } from '../../ports/unit-of-work.ts';
import { decodeCursor, page } from './cursor.ts';
import type { Executor } from './database.ts';

const columns = [
  'id', 'channel', 'recipient', 'user_id', 'subject', 'content', 'content_type', 'priority', 'status', 'scheduled_at', 'max_retries',
  'retry_count', 'attempt_count', 'batch_id', 'incident_id', 'metadata', 'job_id', 'last_error', 'sent_at', 'created_at', 'updated_at',
] as const;

export type NotificationWithAttempts = Notification & { attempts: Attempt[] };

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

export async function getNotification(db: Executor, id: string): Promise<NotificationWithAttempts | undefined> {
  const row = await db.selectFrom('notifications').select(columns).where('id', '=', id).executeTakeFirst();
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

export async function listNotifications(db: Executor, filter: NotificationFilter) {
  let query = db.selectFrom('notifications').select(columns);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.channel) query = query.where('channel', '=', filter.channel);
  if (filter.priority) query = query.where('priority', '=', filter.priority);
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

export async function getBatchCounts(db: Executor, batchId: string): Promise<Record<string, number> | undefined> {
  const rows = await db
    .selectFrom('notifications')
    .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
    .where('batch_id', '=', batchId)
    .groupBy('status')
    .execute();
  if (rows.length === 0) return undefined;
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/** GET /v1/metrics: delivery figures per channel over the last day, from the rows themselves. */
export async function channelFigures(db: Executor) {
  const { rows } = await sql<{
    channel: Channel;
    sent: string;
    failed: string;
    pending: string;
    avg_latency_ms: number | null;
  }>`
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
    group by channel`.execute(db);
  return rows.map((r) => ({ channel: r.channel, sent: Number(r.sent), failed: Number(r.failed), pending: Number(r.pending), avg_latency_ms: r.avg_latency_ms === null ? null : Number(r.avg_latency_ms) }));
}

/**
 * The worker's claim: see DeliveryDeps.claim. One statement for the whole batch. It numbers the
 * attempt (attempt_count + 1, under the row lock, so two claims never get the same number) and
 * that number is the claim's token: recordAttempts and requeue act only while it is current.
 */
export async function claimForSending(db: Executor, jobs: { job_id: string; notification_id: string }[]): Promise<Notification[]> {
  const { rows } = await sql<Notification>`
    update notifications n
    set status = 'sending', attempt_count = n.attempt_count + 1, updated_at = now()
    from unnest(${jobs.map((j) => j.notification_id)}::uuid[], ${jobs.map((j) => j.job_id)}::uuid[]) as j(notification_id, job_id)
    where n.id = j.notification_id and n.job_id = j.job_id and n.status in ('queued', 'scheduled', 'sending')
    returning ${sql.join(columns.map((c) => sql.ref(`n.${c}`)))}`.execute(db);
  return rows;
}

export function makeNotificationWrites(db: Executor): NotificationWrites {
  return {
    async insertMany(rows) {
      const inserted = await db
        .insertInto('notifications')
        .values(rows.map((row) => ({ ...row, metadata: JSON.stringify(row.metadata) })))
        .returning(columns)
        .execute();
      return inserted as Notification[];
    },

    async lock(id) {
      return (await db.selectFrom('notifications').select(columns).where('id', '=', id).forNoKeyUpdate().executeTakeFirst()) as Notification | undefined;
    },

    async incidentOf(id) {
      const row = await db.selectFrom('notifications').select('incident_id').where('id', '=', id).executeTakeFirst();
      return row ? row.incident_id : undefined;
    },

    async update(id, changes) {
      return (await db
        .updateTable('notifications')
        .set({ ...changes, updated_at: sql`now()` })
        .where('id', '=', id)
        .returning(columns)
        .executeTakeFirstOrThrow()) as Notification;
    },

    async recordAttempts(unsorted) {
      // One statement (a data-modifying CTE) for the attempts and the new states of a whole
      // batch: the common case of a batch is then a single round trip, with no BEGIN/COMMIT.
      // Every attempt row goes in (the receiver saw that request), keyed by the number its claim
      // gave it, so writing it twice is a no-op. The state moves only while the notification is
      // still `sending` under that same claim (SPEC section 4: a worker whose job was taken over
      // cannot overwrite what the new holder recorded). Rows are visited in id order, so two
      // workers writing overlapping batches lock them in the same order.
      const records = [...unsorted].sort((x, y) => (x.notification_id < y.notification_id ? -1 : 1));
      const a = records.map((r) => r.attempt);
      const { rows } = await sql<{ id: string }>`
        with attempts as (
          insert into notification_attempts (notification_id, attempt, at, outcome, status_code, error, duration_ms)
          select * from unnest(
            ${records.map((r) => r.notification_id)}::uuid[], ${a.map((x) => x.attempt)}::int[], ${a.map((x) => x.at)}::timestamptz[],
            ${a.map((x) => x.outcome)}::text[], ${a.map((x) => x.status_code)}::int[], ${a.map((x) => x.error)}::text[],
            ${a.map((x) => x.duration_ms)}::int[])
          on conflict do nothing
        )
        update notifications n
        set status = v.status,
            retry_count = n.retry_count + case when v.status = 'queued' then 1 else 0 end,
            job_id = coalesce(v.job_id, n.job_id),
            last_error = v.last_error,
            sent_at = v.sent_at,
            updated_at = now()
        from unnest(
          ${records.map((r) => r.notification_id)}::uuid[], ${a.map((x) => x.attempt)}::int[], ${records.map((r) => r.status)}::text[],
          ${records.map((r) => r.job_id ?? null)}::uuid[], ${records.map((r) => r.last_error)}::text[],
          ${records.map((r) => r.sent_at)}::timestamptz[]) as v(id, attempt, status, job_id, last_error, sent_at)
        where n.id = v.id and n.status = 'sending' and n.attempt_count = v.attempt
        returning n.id`.execute(db);
      return rows.map((r) => r.id);
    },

    async requeue(items) {
      // The attempt number goes back (attempt_count - 1): nothing was sent under it.
      const { rows } = await sql<{ id: string }>`
        update notifications n
        set status = 'queued', job_id = v.job_id, attempt_count = n.attempt_count - 1, updated_at = now()
        from unnest(${items.map((i) => i.notification_id)}::uuid[], ${items.map((i) => i.attempt)}::int[], ${items.map((i) => i.job_id)}::uuid[])
          as v(id, attempt, job_id)
        where n.id = v.id and n.status = 'sending' and n.attempt_count = v.attempt
        returning n.id`.execute(db);
      return rows.map((r) => r.id);
    },

    async refreshIncidentSummaries(incidentIds) {
      const ids = [...incidentIds].sort();
      // Lock the incidents first (in id order, so writers never deadlock): a concurrent writer
      // then counts only after this transaction commits, and never writes a stale summary.
      // FOR NO KEY UPDATE, not FOR UPDATE: the transaction has usually just inserted notifications
      // or timeline rows that reference the incident, which holds FOR KEY SHARE on it; two such
      // transactions upgrading to FOR UPDATE wait for each other's KEY SHARE, a deadlock (16
      // notifications created at once for one incident: 15 answered 500, issue 9). NO KEY UPDATE
      // does not conflict with KEY SHARE, and it is all an UPDATE of non-key columns needs.
      const locked = await db.selectFrom('incidents').select('id').where('id', 'in', ids).orderBy('id').forNoKeyUpdate().execute();
      const counts = await sql<{ incident_id: string; pending: string; sent: string; failed: string }>`
        select incident_id,
               count(*) filter (where status in ('scheduled', 'queued', 'sending')) as pending,
               count(*) filter (where status = 'sent') as sent,
               count(*) filter (where status = 'failed') as failed
        from notifications where incident_id = any(${ids}::uuid[]) group by incident_id`.execute(db);
      const byId = new Map(counts.rows.map((r) => [r.incident_id, { pending: Number(r.pending), sent: Number(r.sent), failed: Number(r.failed) }]));
      const summaries = ids.map((id) => summarize(byId.get(id) ?? { pending: 0, sent: 0, failed: 0 }));
      await sql`
        update incidents i
        set notification_status = v.summary, version = i.version + 1, updated_at = now()
        from unnest(${ids}::uuid[], ${summaries}::text[]) as v(id, summary)
        where i.id = v.id and i.notification_status <> v.summary`.execute(db);
      return locked.map((row) => row.id);
    },
  };
}

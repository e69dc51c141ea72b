import { sql } from 'kysely';
import type { Incident } from '../../domain/incident.ts';
import { type Attempt, type Channel, type Notification, type NotificationStatus } from '../../domain/notification.ts';
import type { Tx } from '../../ports/transact.ts';
import { intArray, textArray, timestampArray } from './array-literal.ts';
import { countInWindowCte, type CountedWindow } from './channel-rate-limiter.ts';
import { executor } from './transact.ts';
import { notificationChangeCtes, notificationColumns, notingChange, runWithChange } from './notification-store.ts';
import { reusableStatement } from './reusable-statement.ts';

// What the delivery worker writes (SPEC section 4): the claim, the outcomes, the hand-backs, and
// the incidents' summaries. Each status change carries its `notification.updated` change in the
// same statement (SPEC section 7), so the common case of a batch stays one round trip.

/** How one delivery attempt ended, to be written with the notification's new state. */
export interface AttemptRecord {
  notification_id: string;
  attempt: Attempt;
  status: NotificationStatus;
  /** Set when a retry job replaces the current one. */
  job_id?: string;
  last_error: string | null;
  sent_at: Date | null;
}

const newestChange = sql`(select max(id)::text from appended_changes) as newest_change`;

/**
 * What the worker reads of a claimed notification: what it sends and what decides the outcome.
 * Not the rest of the row: parsing 21 columns of 200 rows per batch (dates among them) was work
 * and garbage for nothing.
 */
const claimedColumns = [
  'id', 'channel', 'recipient', 'subject', 'content', 'content_type', 'metadata', 'incident_id', 'created_at', 'priority',
  'max_retries', 'retry_count', 'attempt_count',
] as const satisfies readonly (keyof Notification)[];

export type ClaimedNotification = Pick<Notification, (typeof claimedColumns)[number]>;

type ClaimRow = ClaimedNotification & { newest_change: string | null; window_used: number | null; window_ms_left: number | null };

const claimStatement = reusableStatement((channel: Channel, notificationIds: string, jobIds: string) => sql<ClaimRow>`
    with changed as (
      update notifications n
      set status = 'sending', attempt_count = n.attempt_count + 1, updated_at = now()
      from unnest(${notificationIds}::uuid[], ${jobIds}::uuid[]) as j(notification_id, job_id)
      where n.id = j.notification_id and n.job_id = j.job_id and n.status in ('queued', 'scheduled', 'sending')
      returning ${sql.join(notificationColumns.map((c) => sql.ref(`n.${c}`)))}
    ),
    ${notificationChangeCtes()},
    ${countInWindowCte(channel, 'changed')}
    select ${sql.join(claimedColumns.map((c) => sql.ref(`changed.${c}`)))}, ${newestChange},
           rate_window.used as window_used, rate_window.ms_left as window_ms_left
    from changed left join rate_window on true`);

/**
 * The worker's claim: moves the notifications of these jobs from queued/scheduled (or sending,
 * when pg-boss hands back the job of a crashed worker) to sending, and returns them. A job that
 * is no longer its notification's current one (cancelled, or replaced by a retry) is not
 * returned. It numbers the attempt (attempt_count + 1, under the row lock, so two claims never get
 * the same number) and that number is the claim's token: recordAttempts and requeue act only while
 * it is current. In the same statement it counts what it claimed in the channel's rate-limit
 * window (SPEC section 4) and returns the window, from which the worker takes its first grant
 * (ChannelRateLimiter.granted): one round trip for the whole batch, where the claim and the
 * budget were two.
 */
export async function claimForSending(
  tx: Tx,
  channel: Channel,
  jobs: { job_id: string; notification_id: string }[],
): Promise<{ claimed: ClaimedNotification[]; window: CountedWindow | null }> {
  const rows = notingChange(tx, await claimStatement(executor(tx), channel, textArray(jobs.map((j) => j.notification_id)), textArray(jobs.map((j) => j.job_id))));
  const first = rows[0];
  const window = first && first.window_used !== null ? { used: first.window_used, ms_left: first.window_ms_left! } : null;
  // The rows go on as they are: nothing reads the three columns a claimed notification carries
  // besides its own, and a copy without them was 200 objects a batch for the garbage collector.
  return { claimed: rows, window };
}

// The batch goes once, as columns (array literals: see array-literal.ts), and both the attempts'
// insert and the notifications' update read it.
const recordStatement = reusableStatement(
  (ids: string, attempts: string, ats: string, outcomes: string, statusCodes: string, errors: string, durations: string,
    statuses: string, jobIds: string, lastErrors: string, sentAts: string) => sql<{ id: string; newest_change: string | null }>`
    with v as (
      select * from unnest(
        ${ids}::uuid[], ${attempts}::int[], ${ats}::timestamptz[], ${outcomes}::text[], ${statusCodes}::int[], ${errors}::text[],
        ${durations}::int[], ${statuses}::text[], ${jobIds}::uuid[], ${lastErrors}::text[], ${sentAts}::timestamptz[])
        as v(id, attempt, at, outcome, status_code, error, duration_ms, status, job_id, last_error, sent_at)
    ),
    attempts as (
      insert into notification_attempts (notification_id, attempt, at, outcome, status_code, error, duration_ms)
      select id, attempt, at, outcome, status_code, error, duration_ms from v
      on conflict do nothing
    ),
    changed as (
      update notifications n
      set status = v.status,
          retry_count = n.retry_count + case when v.status = 'queued' then 1 else 0 end,
          job_id = coalesce(v.job_id, n.job_id),
          last_error = v.last_error,
          sent_at = v.sent_at,
          updated_at = now()
      from v
      where n.id = v.id and n.status = 'sending' and n.attempt_count = v.attempt
      returning n.id, n.status, n.channel, n.incident_id, n.retry_count, n.updated_at
    ),
    ${notificationChangeCtes()}
    select changed.id, ${newestChange} from changed`,
);

/**
 * Writes the attempts and the new states of a batch in one statement: the common case of a batch
 * is then a single round trip, with no BEGIN/COMMIT. Every attempt row goes in (the receiver saw
 * that request), keyed by the number its claim gave it, so writing it twice is a no-op. The state
 * moves only while the notification is still `sending` under that same claim (SPEC section 4: a
 * worker whose job was taken over cannot overwrite what the new holder recorded). Rows are visited
 * in id order, so two workers writing overlapping batches lock them in the same order. Returns the
 * ids whose state this write changed.
 */
export async function recordAttempts(tx: Tx, unsorted: AttemptRecord[]): Promise<string[]> {
  const records = [...unsorted].sort((x, y) => (x.notification_id < y.notification_id ? -1 : 1));
  const a = records.map((r) => r.attempt);
  const rows = await recordStatement(
    executor(tx),
    textArray(records.map((r) => r.notification_id)), intArray(a.map((x) => x.attempt)), timestampArray(a.map((x) => x.at)),
    textArray(a.map((x) => x.outcome)), intArray(a.map((x) => x.status_code)), textArray(a.map((x) => x.error)),
    intArray(a.map((x) => x.duration_ms)), textArray(records.map((r) => r.status)), textArray(records.map((r) => r.job_id ?? null)),
    textArray(records.map((r) => r.last_error)), timestampArray(records.map((r) => r.sent_at)),
  );
  return notingChange(tx, rows).map((r) => r.id);
}

/**
 * Puts notifications claimed but not attempted (the rate limit, an open breaker, a shutdown) back
 * to `queued` under new jobs. The attempt number goes back (attempt_count - 1): nothing was sent
 * under it. Returns the ids it handed back.
 */
export async function requeueNotifications(tx: Tx, items: { notification_id: string; attempt: number; job_id: string }[]): Promise<string[]> {
  const rows = await runWithChange<{ id: string; newest_change: string | null }>(tx, sql`
    with changed as (
      update notifications n
      set status = 'queued', job_id = v.job_id, attempt_count = n.attempt_count - 1, updated_at = now()
      from unnest(${items.map((i) => i.notification_id)}::uuid[], ${items.map((i) => i.attempt)}::int[], ${items.map((i) => i.job_id)}::uuid[])
        as v(id, attempt, job_id)
      where n.id = v.id and n.status = 'sending' and n.attempt_count = v.attempt
      returning n.id, n.status, n.channel, n.incident_id, n.retry_count, n.updated_at
    ),
    ${notificationChangeCtes()}
    select changed.id, ${newestChange} from changed`);
  return rows.map((r) => r.id);
}

/**
 * Recomputes `notification_status` of these incidents from their notifications. Returns the ids
 * of those that exist, and the incidents whose summary changed (a new version each), for their
 * `incident.updated` changes.
 */
export async function refreshIncidentSummaries(tx: Tx, incidentIds: string[]): Promise<{ present: string[]; changed: Incident[] }> {
  const db = executor(tx);
  const ids = [...new Set(incidentIds)].sort();
  if (ids.length === 0) return { present: [], changed: [] };
  // Lock the incidents first (in id order, so writers never deadlock): a concurrent writer then
  // counts only after this transaction commits, and never writes a stale summary. FOR NO KEY
  // UPDATE, not FOR UPDATE: the transaction has usually just inserted notifications or timeline
  // rows that reference the incident, which holds FOR KEY SHARE on it; two such transactions
  // upgrading to FOR UPDATE wait for each other's KEY SHARE, a deadlock (16 notifications created
  // at once for one incident: 15 answered 500, issue 9). NO KEY UPDATE does not conflict with KEY
  // SHARE, and it is all an UPDATE of non-key columns needs.
  const locked = await db.selectFrom('incidents').select('id').where('id', 'in', ids).orderBy('id').forNoKeyUpdate().execute();
  if (locked.length === 0) return { present: [], changed: [] };
  // Counted and written in one statement: its snapshot is taken after the lock above was granted,
  // so it counts what every writer before it committed. tocsin_notification_summary is
  // summarize() of src/domain/notification.ts in SQL.
  const { rows } = await sql<Incident>`
    with counts as (
      select incident_id,
             count(*) filter (where status in ('scheduled', 'queued', 'sending')) as pending,
             count(*) filter (where status = 'sent') as sent,
             count(*) filter (where status = 'failed') as failed
      from notifications where incident_id = any(${locked.map((row) => row.id)}::uuid[]) group by incident_id
    )
    update incidents i
    set notification_status = v.summary, version = i.version + 1, updated_at = now()
    from (
      select l.id, tocsin_notification_summary(coalesce(c.pending, 0), coalesce(c.sent, 0), coalesce(c.failed, 0)) as summary
      from unnest(${locked.map((row) => row.id)}::uuid[]) as l(id) left join counts c on c.incident_id = l.id
    ) v
    where i.id = v.id and i.notification_status <> v.summary
    returning i.id, i.title, i.description, i.severity, i.status, i.team_id, i.assignee_id, i.source, i.dedup_key, i.created_by,
              i.notification_status, i.version, i.created_at, i.updated_at, i.acknowledged_at, i.resolved_at, i.integration_id, i.details`.execute(db);
  return { present: locked.map((row) => row.id), changed: rows };
}

import { sql } from 'kysely';
import type { Channel, Priority } from '../../domain/notification.ts';
import type { DeliveryQueue, EscalationQueue } from '../../ports/queue.ts';
import type { Transact, Tx } from '../../ports/transact.ts';
import type { Executor } from '../postgres/database.ts';
import { notificationChangeCtes, runWithChange } from '../postgres/notification-store.ts';
import { executor } from '../postgres/transact.ts';
import { ESCALATION_QUEUE } from './escalation-queue.ts';

// SPEC section 4, "nothing accepted is ever stranded": a notification that is scheduled, queued or
// sending, and an escalation step that is scheduled, must have a live pg-boss job (created, retry
// or active). One whose job is gone (deleted, or never committed), failed (pg-boss gave up after
// its retries and dead-lettered it, or expired it) or completed without the row moving on (a
// worker that gave up recording) gets a new job. pg-boss's job table is read directly: it is the
// only way to check thousands of jobs in one statement, and pg-boss is pinned (12.35.0).
//
// A job that is not live never becomes live again, so a row found stranded stays stranded until
// someone moves it; the update re-checks that the row still has the very job (and status) the
// search saw, so a row that moved meanwhile (a worker recorded it, a second sweep rescued it) is
// left alone. That makes the sweep safe at any frequency and with any number of workers.

export interface RescuedNotification {
  id: string;
  channel: Channel;
  priority: Priority;
  status: 'scheduled' | 'queued';
  was: string;
  old_job_id: string | null;
  /** The old job's state, or null when it no longer exists. */
  job_state: string | null;
  job_id: string;
  start_after: Date;
}

export interface RescuedStep {
  incident_id: string;
  run: number;
  round: number;
  level: number;
  old_job_id: string | null;
  job_state: string | null;
  job_id: string;
  start_after: Date;
}

async function rescueNotifications(tx: Tx, limit: number): Promise<RescuedNotification[]> {
  // The new status is a change clients see (SPEC section 7): notification.updated, in the statement.
  const rows = await runWithChange<RescuedNotification & { newest_change: string | null }>(tx, sql`
    with stranded as (
      select n.id, n.status as was, n.job_id as old_job_id, j.state::text as job_state
      from notifications n
      left join pgboss.job j on j.name = 'notify-' || n.channel and j.id = n.job_id
      where n.status in ('scheduled', 'queued', 'sending')
        and (j.id is null or j.state > 'active')
      order by n.created_at
      limit ${limit}
    ), changed as (
      update notifications n
      set status = case when n.scheduled_at > now() then 'scheduled' else 'queued' end,
          job_id = gen_random_uuid(),
          updated_at = now()
      from stranded s
      where n.id = s.id and n.status = s.was and n.job_id is not distinct from s.old_job_id
      returning n.id, n.channel, n.priority, n.status, s.was, s.old_job_id, s.job_state, n.job_id, n.incident_id, n.retry_count, n.updated_at,
                greatest(coalesce(n.scheduled_at, now()), now()) as start_after
    ),
    ${notificationChangeCtes()}
    select id, channel, priority, status, was, old_job_id, job_state, job_id, start_after,
           (select max(id)::text from appended_changes) as newest_change
    from changed`);
  return rows.map(({ newest_change: _, ...row }) => row);
}

async function rescueSteps(tx: Tx, limit: number): Promise<RescuedStep[]> {
  const { rows } = await sql<RescuedStep>`
    with stranded as (
      select e.incident_id, e.run, e.repeat_round, e.level, e.job_id as old_job_id, j.state::text as job_state
      from incident_escalations e
      left join pgboss.job j on j.name = ${ESCALATION_QUEUE} and j.id = e.job_id
      where e.status = 'scheduled' and (j.id is null or j.state > 'active')
      limit ${limit}
    )
    update incident_escalations e
    set job_id = gen_random_uuid()
    from stranded s
    where (e.incident_id, e.run, e.repeat_round, e.level) = (s.incident_id, s.run, s.repeat_round, s.level)
      and e.status = 'scheduled' and e.job_id is not distinct from s.old_job_id
    returning e.incident_id, e.run, e.repeat_round as round, e.level, s.old_job_id, s.job_state, e.job_id,
              greatest(e.due_at, now()) as start_after`.execute(executor(tx));
  return rows;
}

async function countRecoveries(tx: Tx, kind: 'notification' | 'escalation_step', n: number): Promise<void> {
  if (n === 0) return;
  await sql`
    insert into sweep_recoveries (kind, total, last_at) values (${kind}, ${n}, now())
    on conflict (kind) do update set total = sweep_recoveries.total + excluded.total, last_at = excluded.last_at`.execute(executor(tx));
}

/**
 * One pass of at most `limit` rows of each kind, in one transaction: the rows get new job ids, the
 * jobs are inserted, and the recoveries counted, together or not at all.
 */
export async function sweepOnce(deps: { transact: Transact; deliveryQueue: DeliveryQueue; escalationQueue: EscalationQueue }, limit: number) {
  return deps.transact(async (tx) => {
    const notifications = await rescueNotifications(tx, limit);
    if (notifications.length > 0) {
      await deps.deliveryQueue.enqueue(
        tx,
        notifications.map((n) => ({ id: n.job_id, channel: n.channel, notification_id: n.id, priority: n.priority, start_after: n.start_after })),
      );
    }
    const steps = await rescueSteps(tx, limit);
    // The escalation queue keeps one waiting job per step (policy 'short', keyed by the step). Should
    // a stale waiting job hold the key, this insert is dropped; that job then finds the step under
    // another job id and does nothing, and the next sweep tries again.
    for (const step of steps) await deps.escalationQueue.schedule(tx, { id: step.job_id, incident_id: step.incident_id, run: step.run, round: step.round, level: step.level, start_after: step.start_after });
    await countRecoveries(tx, 'notification', notifications.length);
    await countRecoveries(tx, 'escalation_step', steps.length);
    return { notifications, steps };
  });
}

/** For /metrics: what the sweep recovered since the database was created, by kind. */
export async function recoveryTotals(db: Executor): Promise<Map<string, number>> {
  const rows = await db.selectFrom('sweep_recoveries').select(['kind', 'total']).execute();
  return new Map(rows.map((r) => [r.kind, Number(r.total)]));
}

import { sql } from 'kysely';
import { PAGE_EVENT } from '../../domain/escalation.ts';
import type { Channel } from '../../domain/notification.ts';
import type { Tx } from '../../ports/transact.ts';
import { decodeKeyCursor, pageBy, type PageFilter } from './cursor.ts';
import { executor } from './transact.ts';

// The steps of an incident's escalation (SPEC section 5, table incident_escalations).

/** One step of an incident's escalation: a level of a round of a run. */
export interface EscalationStepRow {
  incident_id: string;
  run: number;
  round: number;
  level: number;
  policy_id: string;
  status: 'scheduled' | 'paged' | 'cancelled';
  due_at: Date;
  paged_at: Date | null;
  job_id: string | null;
}

export type StepKey = { incident_id: string; run: number; round: number; level: number };

/** Someone an incident paged, and where: the people to tell when it is acknowledged or resolved. */
export interface PagedRecipient {
  user_id: string;
  channel: Channel;
  recipient: string;
}

const columns = ['incident_id', 'run', 'repeat_round', 'level', 'policy_id', 'status', 'due_at', 'paged_at', 'job_id'] as const;

type Row = Omit<EscalationStepRow, 'round' | 'status'> & { repeat_round: number; status: string };
const toStep = ({ repeat_round, status, ...row }: Row): EscalationStepRow => ({ ...row, round: repeat_round, status: status as EscalationStepRow['status'] });

/** GET /v1/incidents/:id/escalations: the steps of the incident's paging in the order they happen (run, round, level), a page at a time. */
export async function listEscalationSteps(tx: Tx, incidentId: string, filter: PageFilter) {
  let query = executor(tx).selectFrom('incident_escalations').select(columns).where('incident_id', '=', incidentId);
  if (filter.cursor) {
    const [run, round, level] = decodeKeyCursor(filter.cursor, ['integer', 'integer', 'integer']);
    query = query.where(sql<boolean>`(run, repeat_round, level) > (${run}, ${round}, ${level})`);
  }
  const rows = await query.orderBy('run').orderBy('repeat_round').orderBy('level').limit(filter.limit + 1).execute();
  return pageBy((rows as Row[]).map(toStep), filter.limit, (step) => [step.run, step.round, step.level]);
}

const byKey = (tx: Tx, key: StepKey) =>
  executor(tx)
    .selectFrom('incident_escalations')
    .select(columns)
    .where('incident_id', '=', key.incident_id)
    .where('run', '=', key.run)
    .where('repeat_round', '=', key.round)
    .where('level', '=', key.level);

/**
 * Starts the incident's next run of its escalation (0, then 1 after a reassignment, ...) with its
 * first step, level 0 of round 0, recorded as paged at `at` (the caller pages it in this
 * transaction); returns the run. One statement: it is on the path of every alert that opens an
 * incident. The caller holds the incident's row lock, so two runs are never numbered alike.
 */
export async function startEscalationRun(tx: Tx, { incident_id, policy_id, at }: { incident_id: string; policy_id: string; at: Date }): Promise<number> {
  const { rows } = await sql<{ run: number }>`
    insert into incident_escalations (incident_id, run, repeat_round, level, policy_id, status, due_at, paged_at, job_id)
    select ${incident_id}::uuid, coalesce(max(run) + 1, 0), 0, 0, ${policy_id}::uuid, 'paged', ${at}, ${at}, null
    from incident_escalations where incident_id = ${incident_id}::uuid
    returning run`.execute(executor(tx));
  return Number(rows[0]!.run);
}

/** Records a step; false when that step of that run already exists (it is never paged twice). */
export async function insertEscalationStep(tx: Tx, { round, ...row }: EscalationStepRow): Promise<boolean> {
  const result = await executor(tx)
    .insertInto('incident_escalations')
    .values({ ...row, repeat_round: round })
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
}

/** Reads and row-locks one step. */
export async function lockEscalationStep(tx: Tx, key: StepKey): Promise<EscalationStepRow | undefined> {
  const row = await byKey(tx, key).forUpdate().executeTakeFirst();
  return row ? toStep(row as Row) : undefined;
}

export async function markStepPaged(tx: Tx, key: StepKey, at: Date): Promise<void> {
  await executor(tx)
    .updateTable('incident_escalations')
    .set({ status: 'paged', paged_at: at })
    .where('incident_id', '=', key.incident_id)
    .where('run', '=', key.run)
    .where('repeat_round', '=', key.round)
    .where('level', '=', key.level)
    .execute();
}

/** Cancels every step still scheduled for the incident and returns them, locked. */
export async function cancelScheduledSteps(tx: Tx, incidentId: string): Promise<EscalationStepRow[]> {
  const rows = await executor(tx)
    .updateTable('incident_escalations')
    .set({ status: 'cancelled' })
    .where('incident_id', '=', incidentId)
    .where('status', '=', 'scheduled')
    .returning(columns)
    .execute();
  return (rows as Row[]).map(toStep);
}

/** Page notifications of the incident that are held back (quiet hours), with their jobs. */
export async function heldPages(tx: Tx, incidentId: string): Promise<{ id: string; channel: Channel; job_id: string | null }[]> {
  const rows = await executor(tx)
    .selectFrom('notifications')
    .select(['id', 'channel', 'job_id'])
    .where('incident_id', '=', incidentId)
    .where('status', '=', 'scheduled')
    .where(sql<boolean>`metadata->>'event' = ${PAGE_EVENT}`)
    .forUpdate()
    .execute();
  return rows.map((r) => ({ id: r.id, channel: r.channel as Channel, job_id: r.job_id }));
}

/** Everyone a page of the incident went (or is going) to, once per user, channel and address. */
export async function pagedRecipients(tx: Tx, incidentId: string): Promise<PagedRecipient[]> {
  const rows = await executor(tx)
    .selectFrom('notifications')
    .select(['user_id', 'channel', 'recipient', sql<Date>`min(created_at)`.as('first')])
    .where('incident_id', '=', incidentId)
    .where('user_id', 'is not', null)
    .where('status', '<>', 'cancelled')
    .where(sql<boolean>`metadata->>'event' = ${PAGE_EVENT}`)
    .groupBy(['user_id', 'channel', 'recipient'])
    .orderBy('first')
    .execute();
  return rows.map((r) => ({ user_id: r.user_id!, channel: r.channel as Channel, recipient: r.recipient }));
}

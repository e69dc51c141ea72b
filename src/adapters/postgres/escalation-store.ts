import { sql } from 'kysely';
import { PAGE_EVENT } from '../../domain/escalation.ts';
import type { Channel } from '../../domain/notification.ts';
import type { EscalationStepRow, EscalationWrites } from '../../ports/people-writes.ts';
import { decodeKeyCursor, pageBy, type PageFilter } from './cursor.ts';
import type { Executor } from './database.ts';

const columns = ['incident_id', 'run', 'repeat_round', 'level', 'policy_id', 'status', 'due_at', 'paged_at', 'job_id'] as const;

type Row = Omit<EscalationStepRow, 'round' | 'status'> & { repeat_round: number; status: string };
const toStep = ({ repeat_round, status, ...row }: Row): EscalationStepRow => ({ ...row, round: repeat_round, status: status as EscalationStepRow['status'] });

/** GET /v1/incidents/:id/escalations: the steps of the incident's paging in the order they happen (run, round, level), a page at a time. */
export async function listEscalationSteps(db: Executor, incidentId: string, filter: PageFilter) {
  let query = db.selectFrom('incident_escalations').select(columns).where('incident_id', '=', incidentId);
  if (filter.cursor) {
    const [run, round, level] = decodeKeyCursor(filter.cursor, ['integer', 'integer', 'integer']);
    query = query.where(sql<boolean>`(run, repeat_round, level) > (${run}, ${round}, ${level})`);
  }
  const rows = await query.orderBy('run').orderBy('repeat_round').orderBy('level').limit(filter.limit + 1).execute();
  return pageBy((rows as Row[]).map(toStep), filter.limit, (step) => [step.run, step.round, step.level]);
}

export function makeEscalationWrites(db: Executor): EscalationWrites {
  const byKey = (key: { incident_id: string; run: number; round: number; level: number }) =>
    db
      .selectFrom('incident_escalations')
      .select(columns)
      .where('incident_id', '=', key.incident_id)
      .where('run', '=', key.run)
      .where('repeat_round', '=', key.round)
      .where('level', '=', key.level);

  return {
    async nextRun(incidentId) {
      const row = await db
        .selectFrom('incident_escalations')
        .select(sql<number>`coalesce(max(run) + 1, 0)`.as('next'))
        .where('incident_id', '=', incidentId)
        .executeTakeFirstOrThrow();
      return Number(row.next);
    },

    async insert({ round, ...row }) {
      const result = await db
        .insertInto('incident_escalations')
        .values({ ...row, repeat_round: round })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
    },

    async lock(key) {
      const row = await byKey(key).forUpdate().executeTakeFirst();
      return row ? toStep(row as Row) : undefined;
    },

    async markPaged(key, at) {
      await db
        .updateTable('incident_escalations')
        .set({ status: 'paged', paged_at: at })
        .where('incident_id', '=', key.incident_id)
        .where('run', '=', key.run)
        .where('repeat_round', '=', key.round)
        .where('level', '=', key.level)
        .execute();
    },

    async cancelScheduled(incidentId) {
      const rows = await db
        .updateTable('incident_escalations')
        .set({ status: 'cancelled' })
        .where('incident_id', '=', incidentId)
        .where('status', '=', 'scheduled')
        .returning(columns)
        .execute();
      return (rows as Row[]).map(toStep);
    },

    async heldPages(incidentId) {
      const rows = await db
        .selectFrom('notifications')
        .select(['id', 'channel', 'job_id'])
        .where('incident_id', '=', incidentId)
        .where('status', '=', 'scheduled')
        .where(sql<boolean>`metadata->>'event' = ${PAGE_EVENT}`)
        .forUpdate()
        .execute();
      return rows.map((r) => ({ id: r.id, channel: r.channel as Channel, job_id: r.job_id }));
    },

    async pagedRecipients(incidentId) {
      const rows = await db
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
    },
  };
}

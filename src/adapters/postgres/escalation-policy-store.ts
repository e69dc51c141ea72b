import { sql } from 'kysely';
import type { EscalationLevel, EscalationPolicy } from '../../domain/escalation.ts';
import type { Tx } from '../../ports/transact.ts';
import { decodeCursor, page } from './cursor.ts';
import type { Executor } from './database.ts';
import { executor } from './transact.ts';

const columns = ['id', 'name', 'repeat', 'created_at', 'updated_at'] as const;
type PolicyRow = Omit<EscalationPolicy, 'levels'>;

async function withLevels(db: Executor, rows: PolicyRow[]): Promise<EscalationPolicy[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const [levels, users, schedules] = await Promise.all([
    db.selectFrom('escalation_levels').select(['policy_id', 'level', 'delay_seconds']).where('policy_id', 'in', ids).orderBy('policy_id').orderBy('level').execute(),
    db.selectFrom('escalation_level_users').select(['policy_id', 'level', 'user_id as id']).where('policy_id', 'in', ids).orderBy('policy_id').orderBy('level').orderBy('position').execute(),
    db.selectFrom('escalation_level_schedules').select(['policy_id', 'level', 'schedule_id as id']).where('policy_id', 'in', ids).orderBy('policy_id').orderBy('level').orderBy('position').execute(),
  ]);
  const byLevel = (targets: { policy_id: string; level: number; id: string }[]) => {
    const of = new Map<string, string[]>();
    for (const t of targets) of.set(`${t.policy_id}:${t.level}`, [...(of.get(`${t.policy_id}:${t.level}`) ?? []), t.id]);
    return of;
  };
  const usersOf = byLevel(users);
  const schedulesOf = byLevel(schedules);
  return rows.map((row) => ({
    ...row,
    levels: levels
      .filter((l) => l.policy_id === row.id)
      .map((l) => ({
        delay_seconds: l.delay_seconds,
        user_ids: usersOf.get(`${row.id}:${l.level}`) ?? [],
        schedule_ids: schedulesOf.get(`${row.id}:${l.level}`) ?? [],
      })),
  }));
}

export async function getPolicy(tx: Tx, id: string): Promise<EscalationPolicy | undefined> {
  const db = executor(tx);
  const row = await db.selectFrom('escalation_policies').select(columns).where('id', '=', id).executeTakeFirst();
  return row ? (await withLevels(db, [row]))[0] : undefined;
}

export async function listPolicies(tx: Tx, filter: { limit: number; cursor?: string }) {
  const db = executor(tx);
  let query = db.selectFrom('escalation_policies').select(columns);
  if (filter.cursor) {
    const after = decodeCursor(filter.cursor);
    query = query.where(sql<boolean>`(created_at, id) < (${after.created_at}, ${after.id}::uuid)`);
  }
  const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit + 1).execute();
  const result = page(rows, filter.limit);
  return { data: await withLevels(db, result.data), next_cursor: result.next_cursor };
}

export async function insertPolicy(tx: Tx, { levels, ...row }: { name: string; repeat: number; levels: EscalationLevel[] }): Promise<EscalationPolicy> {
  const db = executor(tx);
  const policy = await db.insertInto('escalation_policies').values(row).returning(columns).executeTakeFirstOrThrow();
  await db
    .insertInto('escalation_levels')
    .values(levels.map((l, level) => ({ policy_id: policy.id, level, delay_seconds: l.delay_seconds })))
    .execute();
  const targets = levels.flatMap((l, level) => l.user_ids.map((user_id, position) => ({ policy_id: policy.id, level, position, user_id })));
  if (targets.length > 0) await db.insertInto('escalation_level_users').values(targets).execute();
  const schedules = levels.flatMap((l, level) => l.schedule_ids.map((schedule_id, position) => ({ policy_id: policy.id, level, position, schedule_id })));
  if (schedules.length > 0) await db.insertInto('escalation_level_schedules').values(schedules).execute();
  return (await withLevels(db, [policy]))[0]!;
}

/** Which of these ids are policies. */
export async function existingPolicies(tx: Tx, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await executor(tx).selectFrom('escalation_policies').select('id').where('id', 'in', ids).execute();
  return rows.map((r) => r.id);
}

/** The policies with a level that pages through this schedule (a schedule in use is not deleted). */
export async function policiesUsingSchedule(tx: Tx, scheduleId: string): Promise<string[]> {
  const rows = await executor(tx).selectFrom('escalation_level_schedules').select('policy_id').distinct().where('schedule_id', '=', scheduleId).execute();
  return rows.map((r) => r.policy_id);
}

import { sql } from 'kysely';
import type { EscalationLevel, EscalationPolicy, Team } from '../../domain/escalation.ts';
import type { Tx } from '../../ports/transact.ts';
import { decodeCursor, page } from './cursor.ts';
import type { Executor } from './database.ts';
import { memberIds } from './team-store.ts';
import { executor } from './transact.ts';

const columns = ['id', 'name', 'repeat', 'created_at', 'updated_at'] as const;

/** The levels of the policy `p`, as a JSON array: delay, users and schedules of each, in order. */
const levelsOfP = sql<EscalationLevel[]>`coalesce((
  select json_agg(json_build_object(
    'delay_seconds', l.delay_seconds,
    'user_ids', array(select u.user_id from escalation_level_users u where u.policy_id = l.policy_id and u.level = l.level order by u.position),
    'schedule_ids', array(select s.schedule_id from escalation_level_schedules s where s.policy_id = l.policy_id and s.level = l.level order by s.position)
  ) order by l.level)
  from escalation_levels l where l.policy_id = p.id), '[]')`;

/** Policies with their levels, one statement whatever the filter. */
const selectPolicies = (db: Executor) =>
  db.selectFrom('escalation_policies as p').select(['p.id', 'p.name', 'p.repeat', 'p.created_at', 'p.updated_at']).select(levelsOfP.as('levels'));

/** A policy with its levels in one round trip. */
export async function getPolicy(tx: Tx, id: string): Promise<EscalationPolicy | undefined> {
  return selectPolicies(executor(tx)).where('p.id', '=', id).executeTakeFirst();
}

/**
 * A team and its escalation policy (none when it has none, or it is gone), in one round trip:
 * paging reads both inside the transaction of every alert that opens an incident.
 */
export async function getTeamAndPolicy(tx: Tx, teamId: string): Promise<{ team: Team; policy: EscalationPolicy | undefined } | undefined> {
  const row = await executor(tx)
    .selectFrom('teams')
    .leftJoin('escalation_policies as p', 'p.id', 'teams.escalation_policy_id')
    .select(['teams.id', 'teams.name', 'teams.escalation_policy_id', 'teams.created_at', 'teams.updated_at'])
    .select(memberIds)
    .select(['p.id as policy_id', 'p.name as policy_name', 'p.repeat as policy_repeat', 'p.created_at as policy_created_at', 'p.updated_at as policy_updated_at'])
    .select(levelsOfP.as('levels'))
    .where('teams.id', '=', teamId)
    .executeTakeFirst();
  if (!row) return undefined;
  const { policy_id, policy_name, policy_repeat, policy_created_at, policy_updated_at, levels, ...team } = row;
  const policy = policy_id === null || policy_name === null || policy_repeat === null || policy_created_at === null || policy_updated_at === null
    ? undefined
    : { id: policy_id, name: policy_name, repeat: policy_repeat, created_at: policy_created_at, updated_at: policy_updated_at, levels };
  return { team, policy };
}

export async function listPolicies(tx: Tx, filter: { limit: number; cursor?: string }) {
  let query = selectPolicies(executor(tx));
  if (filter.cursor) {
    const after = decodeCursor(filter.cursor);
    query = query.where(sql<boolean>`(p.created_at, p.id) < (${after.created_at}, ${after.id}::uuid)`);
  }
  const rows = await query.orderBy('p.created_at', 'desc').orderBy('p.id', 'desc').limit(filter.limit + 1).execute();
  return page(rows, filter.limit);
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
  return (await getPolicy(tx, policy.id))!;
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

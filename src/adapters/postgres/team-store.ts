import { sql } from 'kysely';
import type { Team } from '../../domain/escalation.ts';
import type { Tx } from '../../ports/transact.ts';
import { decodeCursor, page } from './cursor.ts';
import { executor } from './transact.ts';

const columns = ['id', 'name', 'escalation_policy_id', 'created_at', 'updated_at'] as const;

/** A team's members in order, as a column of `teams`: reading a team is one round trip (paging reads one per alert). */
export const memberIds = sql<string[]>`array(select m.user_id from team_members m where m.team_id = teams.id order by m.position)`.as('member_ids');

export async function getTeam(tx: Tx, id: string): Promise<Team | undefined> {
  return executor(tx).selectFrom('teams').select(columns).select(memberIds).where('id', '=', id).executeTakeFirst();
}

export async function listTeams(tx: Tx, filter: { limit: number; cursor?: string }) {
  const db = executor(tx);
  let query = db.selectFrom('teams').select(columns);
  if (filter.cursor) {
    const after = decodeCursor(filter.cursor);
    query = query.where(sql<boolean>`(created_at, id) < (${after.created_at}, ${after.id}::uuid)`);
  }
  const rows = await query.select(memberIds).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit + 1).execute();
  return page(rows, filter.limit);
}

export async function insertTeam(tx: Tx, { member_ids, ...row }: { name: string; member_ids: string[]; escalation_policy_id: string | null }): Promise<Team> {
  const db = executor(tx);
  const team = await db.insertInto('teams').values(row).returning(columns).executeTakeFirstOrThrow();
  if (member_ids.length > 0) {
    await db.insertInto('team_members').values(member_ids.map((user_id, position) => ({ team_id: team.id, user_id, position }))).execute();
  }
  return (await getTeam(tx, team.id))!;
}

/** Which of these ids are teams. FOR KEY SHARE: a team referenced by a change being made cannot be deleted under it. */
export async function existingTeams(tx: Tx, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await executor(tx).selectFrom('teams').select('id').where('id', 'in', ids).forKeyShare().execute();
  return rows.map((r) => r.id);
}

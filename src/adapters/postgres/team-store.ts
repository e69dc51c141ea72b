import { sql } from 'kysely';
import type { Team } from '../../domain/escalation.ts';
import type { TeamWrites } from '../../ports/people-writes.ts';
import { decodeCursor, page } from './cursor.ts';
import type { Executor } from './database.ts';
import type { Tx } from '../../ports/transact.ts';
import { executor } from './transact.ts';

const columns = ['id', 'name', 'escalation_policy_id', 'created_at', 'updated_at'] as const;
type TeamRow = Omit<Team, 'member_ids'>;

async function withMembers(db: Executor, rows: TeamRow[]): Promise<Team[]> {
  if (rows.length === 0) return [];
  const members = await db
    .selectFrom('team_members')
    .select(['team_id', 'user_id'])
    .where('team_id', 'in', rows.map((r) => r.id))
    .orderBy('team_id')
    .orderBy('position')
    .execute();
  return rows.map((row) => ({ ...row, member_ids: members.filter((m) => m.team_id === row.id).map((m) => m.user_id) }));
}

export async function getTeam(db: Executor, id: string): Promise<Team | undefined> {
  const row = await db.selectFrom('teams').select(columns).where('id', '=', id).executeTakeFirst();
  return row ? (await withMembers(db, [row]))[0] : undefined;
}

export async function listTeams(db: Executor, filter: { limit: number; cursor?: string }) {
  let query = db.selectFrom('teams').select(columns);
  if (filter.cursor) {
    const after = decodeCursor(filter.cursor);
    query = query.where(sql<boolean>`(created_at, id) < (${after.created_at}, ${after.id}::uuid)`);
  }
  const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit + 1).execute();
  const result = page(rows, filter.limit);
  return { data: await withMembers(db, result.data), next_cursor: result.next_cursor };
}

export function makeTeamWrites(db: Executor): TeamWrites {
  return {
    async insert({ member_ids, ...row }) {
      const team = await db.insertInto('teams').values(row).returning(columns).executeTakeFirstOrThrow();
      if (member_ids.length > 0) {
        await db.insertInto('team_members').values(member_ids.map((user_id, position) => ({ team_id: team.id, user_id, position }))).execute();
      }
      return (await withMembers(db, [team]))[0]!;
    },
    get: (id) => getTeam(db, id),
    async existing(ids) {
      if (ids.length === 0) return [];
      // FOR KEY SHARE: a team referenced by a change being made cannot be deleted under it.
      const rows = await db.selectFrom('teams').select('id').where('id', 'in', ids).forKeyShare().execute();
      return rows.map((r) => r.id);
    },
  };
}

// ---- The new shape (issue 11): plain functions taking the transaction first. Added for the
// schedules of SPEC section 11; the rest of this file moves to this shape with issue 11.

/** Which of these team ids exist; FOR KEY SHARE, so a team named by a change stays until it commits. */
export async function existingTeamIds(tx: Tx, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await executor(tx).selectFrom('teams').select('id').where('id', 'in', [...new Set(ids)]).forKeyShare().execute();
  return rows.map((row) => row.id);
}

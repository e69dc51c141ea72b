import { DomainError } from '../domain/errors.ts';
import { policyProblems, type EscalationLevel, type EscalationPolicy, type Team } from '../domain/escalation.ts';
import type { Clock } from '../ports/clock.ts';
import type { Stores, Transact } from '../ports/unit-of-work.ts';

export interface SetupContext {
  transact: Transact;
  clock: Clock;
  actor: string;
}

type Problem = { field: string; message: string };

function throwIf(problems: Problem[]) {
  if (problems.length > 0) {
    throw new DomainError('VALIDATION_ERROR', `invalid request: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, problems);
  }
}

/** Every reference to a user that does not exist, by its field path. */
async function unknownUsers(stores: Stores, references: { field: string; id: string }[]): Promise<Problem[]> {
  const found = new Set((await stores.users.getMany(references.map((r) => r.id))).map((u) => u.id.toLowerCase()));
  return references.filter((r) => !found.has(r.id.toLowerCase())).map((r) => ({ field: r.field, message: 'refers to no user' }));
}

/** POST /v1/escalation-policies: every user a level names must exist. */
export async function createPolicy(ctx: SetupContext, input: { name: string; levels: EscalationLevel[]; repeat?: number }): Promise<EscalationPolicy> {
  const repeat = input.repeat ?? 0;
  throwIf(policyProblems(input.levels, repeat));
  return ctx.transact(async (stores) => {
    throwIf(await unknownUsers(stores, input.levels.flatMap((level, i) => level.user_ids.map((id, j) => ({ field: `body.levels.${i}.user_ids.${j}`, id })))));
    return stores.policies.insert({ name: input.name, repeat, levels: input.levels.map((l) => ({ delay_seconds: l.delay_seconds, user_ids: l.user_ids.map((id) => id.toLowerCase()) })) });
  });
}

/** POST /v1/teams: its members and its policy must exist. */
export async function createTeam(ctx: SetupContext, input: { name: string; member_ids?: string[]; escalation_policy_id?: string | null }): Promise<Team> {
  const memberIds = (input.member_ids ?? []).map((id) => id.toLowerCase());
  const seen = new Set<string>();
  const duplicates: Problem[] = [];
  memberIds.forEach((id, index) => {
    if (seen.has(id)) duplicates.push({ field: `body.member_ids.${index}`, message: 'names the same user twice' });
    seen.add(id);
  });
  throwIf(duplicates);
  const policyId = input.escalation_policy_id?.toLowerCase() ?? null;
  return ctx.transact(async (stores) => {
    const problems = await unknownUsers(stores, memberIds.map((id, index) => ({ field: `body.member_ids.${index}`, id })));
    if (policyId !== null && (await stores.policies.existing([policyId])).length === 0) {
      problems.push({ field: 'body.escalation_policy_id', message: 'refers to no escalation policy' });
    }
    throwIf(problems);
    return stores.teams.insert({ name: input.name, member_ids: memberIds, escalation_policy_id: policyId });
  });
}

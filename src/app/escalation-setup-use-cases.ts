import { policyProblems, type EscalationLevel, type EscalationPolicy, type Team } from '../domain/escalation.ts';
import type { Clock } from '../ports/clock.ts';
import type { Transact } from '../ports/unit-of-work.ts';
import { checkReferences, throwIfProblems, type Problem } from './references.ts';

export interface SetupContext {
  transact: Transact;
  clock: Clock;
  actor: string;
}

/** POST /v1/escalation-policies: every user a level names must exist. */
export async function createPolicy(ctx: SetupContext, input: { name: string; levels: EscalationLevel[]; repeat?: number }): Promise<EscalationPolicy> {
  const repeat = input.repeat ?? 0;
  throwIfProblems(policyProblems(input.levels, repeat));
  return ctx.transact(async (stores) => {
    await checkReferences(stores, input.levels.flatMap((level, i) => level.user_ids.map((id, j) => ({ field: `body.levels.${i}.user_ids.${j}`, kind: 'user' as const, id }))));
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
  throwIfProblems(duplicates);
  const policyId = input.escalation_policy_id?.toLowerCase() ?? null;
  return ctx.transact(async (stores) => {
    await checkReferences(stores, [
      ...memberIds.map((id, index) => ({ field: `body.member_ids.${index}`, kind: 'user' as const, id })),
      ...(policyId === null ? [] : [{ field: 'body.escalation_policy_id', kind: 'escalation policy' as const, id: policyId }]),
    ]);
    return stores.teams.insert({ name: input.name, member_ids: memberIds, escalation_policy_id: policyId });
  });
}

import { policyProblems, type EscalationLevel, type EscalationPolicy, type Team } from '../domain/escalation.ts';
import type { Tx } from '../ports/transact.ts';
import type * as PolicyStore from '../adapters/postgres/escalation-policy-store.ts';
import type * as TeamStore from '../adapters/postgres/team-store.ts';
import { throwIfProblems, type Problem, type References } from './references.ts';

// SPEC section 5: escalation policies and teams.

/** A level as asked for: users, on-call schedules (SPEC section 11), or both. */
export interface LevelInput {
  delay_seconds: number;
  user_ids?: string[];
  schedule_ids?: string[];
}

export function makeEscalationSetupUseCases(deps: {
  policies: Pick<typeof PolicyStore, 'insertPolicy'>;
  teams: Pick<typeof TeamStore, 'insertTeam'>;
  references: Pick<References, 'check'>;
}) {
  return {
    /** POST /v1/escalation-policies: every user and schedule a level names must exist. */
    async createPolicyWithin(tx: Tx, input: { name: string; levels: LevelInput[]; repeat?: number }): Promise<EscalationPolicy> {
      const repeat = input.repeat ?? 0;
      const levels: EscalationLevel[] = input.levels.map((l) => ({
        delay_seconds: l.delay_seconds,
        user_ids: (l.user_ids ?? []).map((id) => id.toLowerCase()),
        schedule_ids: (l.schedule_ids ?? []).map((id) => id.toLowerCase()),
      }));
      throwIfProblems(policyProblems(levels, repeat));
      await deps.references.check(tx, levels.flatMap((level, i) => [
        ...level.user_ids.map((id, j) => ({ field: `body.levels.${i}.user_ids.${j}`, kind: 'user' as const, id })),
        ...level.schedule_ids.map((id, j) => ({ field: `body.levels.${i}.schedule_ids.${j}`, kind: 'schedule' as const, id })),
      ]));
      return deps.policies.insertPolicy(tx, { name: input.name, repeat, levels });
    },

    /** POST /v1/teams: its members and its policy must exist. */
    async createTeamWithin(tx: Tx, input: { name: string; member_ids?: string[]; escalation_policy_id?: string | null }): Promise<Team> {
      const memberIds = (input.member_ids ?? []).map((id) => id.toLowerCase());
      const seen = new Set<string>();
      const duplicates: Problem[] = [];
      memberIds.forEach((id, index) => {
        if (seen.has(id)) duplicates.push({ field: `body.member_ids.${index}`, message: 'names the same user twice' });
        seen.add(id);
      });
      throwIfProblems(duplicates);
      const policyId = input.escalation_policy_id?.toLowerCase() ?? null;
      await deps.references.check(tx, [
        ...memberIds.map((id, index) => ({ field: `body.member_ids.${index}`, kind: 'user' as const, id })),
        ...(policyId === null ? [] : [{ field: 'body.escalation_policy_id', kind: 'escalation policy' as const, id: policyId }]),
      ]);
      return deps.teams.insertTeam(tx, { name: input.name, member_ids: memberIds, escalation_policy_id: policyId });
    },
  };
}

export type EscalationSetupUseCases = ReturnType<typeof makeEscalationSetupUseCases>;

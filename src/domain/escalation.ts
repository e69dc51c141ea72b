import type { Severity } from './incident.ts';
import type { Priority } from './notification.ts';

// SPEC section 5: an escalation policy is a list of levels, each paged `delay_seconds` after the
// previous one (level 0 at once), repeated `repeat` times while nobody acknowledges.

/** A level names users, on-call schedules (SPEC section 11), or both. */
export interface EscalationLevel {
  delay_seconds: number;
  user_ids: string[];
  schedule_ids: string[];
}

export interface EscalationPolicy {
  id: string;
  name: string;
  levels: EscalationLevel[];
  repeat: number;
  created_at: Date;
  updated_at: Date;
}

export interface Team {
  id: string;
  name: string;
  member_ids: string[];
  escalation_policy_id: string | null;
  created_at: Date;
  updated_at: Date;
}

/** Where an incident is in its policy: `round` 0 is the first pass, 1 the first repeat. */
export interface Step {
  round: number;
  level: number;
}

/**
 * metadata.event of the notifications paging sends. Outcome notices carry `incident.acknowledged`
 * or `incident.resolved`; only pages count as "already paged" when an incident is acknowledged.
 */
export const PAGE_EVENT = 'incident.page';

export const MAX_REPEAT = 9;
export const MAX_LEVELS = 20;
export const MAX_DELAY_SECONDS = 7 * 24 * 3600;

/**
 * The pause before the policy starts over at level 0: level 0's own delay (it is "how long after
 * the previous level", and before a repeat the previous level is the last one), or, when level 0
 * says 0 because it is paged at once on the first pass, the last level's delay. A repeat never
 * pages level 0 in the same instant as the level before it.
 */
export function repeatPause(levels: readonly EscalationLevel[]): number {
  const first = levels[0]?.delay_seconds ?? 0;
  return first > 0 ? first : (levels[levels.length - 1]?.delay_seconds ?? 0);
}

/** The step after `current` and how long after it, or null when the policy is done. */
export function nextStep(policy: Pick<EscalationPolicy, 'levels' | 'repeat'>, current: Step): { step: Step; delay_seconds: number } | null {
  const nextLevel = current.level + 1;
  if (nextLevel < policy.levels.length) {
    return { step: { round: current.round, level: nextLevel }, delay_seconds: policy.levels[nextLevel]!.delay_seconds };
  }
  if (current.round < policy.repeat) {
    return { step: { round: current.round + 1, level: 0 }, delay_seconds: repeatPause(policy.levels) };
  }
  return null;
}

/** What the schema cannot say about a policy, each with its field path under `body`. */
export function policyProblems(levels: readonly EscalationLevel[], repeat: number): { field: string; message: string }[] {
  const problems: { field: string; message: string }[] = [];
  levels.forEach((level, index) => {
    if (level.user_ids.length === 0 && level.schedule_ids.length === 0) {
      problems.push({ field: `body.levels.${index}`, message: 'names nobody: give user_ids, schedule_ids, or both' });
    }
    for (const [list, what] of [[level.user_ids, 'user'], [level.schedule_ids, 'schedule']] as const) {
      const seen = new Set<string>();
      list.forEach((id, position) => {
        if (seen.has(id.toLowerCase())) problems.push({ field: `body.levels.${index}.${what}_ids.${position}`, message: `names the same ${what} twice in one level` });
        seen.add(id.toLowerCase());
      });
    }
  });
  if (repeat > 0 && repeatPause(levels) === 0) {
    problems.push({
      field: 'body.repeat',
      message: 'a policy that repeats needs a pause before it starts over: give level 0 or the last level a delay_seconds above 0',
    });
  }
  return problems;
}

/** SPEC section 5: P1 and P2 page with high priority, P3 normal, P4 low. */
export const pagePriority = (severity: Severity): Priority =>
  severity === 'P1' || severity === 'P2' ? 'high' : severity === 'P3' ? 'normal' : 'low';

/** Only a P1 goes through quiet hours. */
export const breaksQuietHours = (severity: Severity): boolean => severity === 'P1';

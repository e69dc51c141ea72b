import { DomainError } from '../domain/errors.ts';
import type { Tx } from '../ports/transact.ts';
import type * as IncidentStore from '../adapters/postgres/incident-store.ts';
import type * as PolicyStore from '../adapters/postgres/escalation-policy-store.ts';
import type * as ScheduleStore from '../adapters/postgres/schedule-store.ts';
import type * as TeamStore from '../adapters/postgres/team-store.ts';
import type * as UserStore from '../adapters/postgres/user-store.ts';

// SPEC section 2: a reference in a body must name something that exists, or the request is a
// 400 VALIDATION_ERROR whose details name each bad field. Checked in the use cases, inside their
// transaction, so every entry point (REST, integrations, workers, the console) gets it.

export type Problem = { field: string; message: string };
export type ReferenceKind = 'team' | 'user' | 'escalation policy' | 'incident' | 'schedule';
export interface Reference {
  /** The field path, such as body.team_id or body.notifications.2.incident_id. */
  field: string;
  kind: ReferenceKind;
  id: string;
}

export function throwIfProblems(problems: Problem[]): void {
  if (problems.length > 0) {
    throw new DomainError('VALIDATION_ERROR', `invalid request: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, problems);
  }
}

export function makeReferences(deps: {
  teams: Pick<typeof TeamStore, 'existingTeams'>;
  users: Pick<typeof UserStore, 'getUsers'>;
  policies: Pick<typeof PolicyStore, 'existingPolicies'>;
  incidents: Pick<typeof IncidentStore, 'existingIncidents'>;
  schedules: Pick<typeof ScheduleStore, 'existingSchedules'>;
}) {
  /** Which of these ids exist, per kind (one query per kind that is named). */
  async function existing(tx: Tx, kind: ReferenceKind, ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const unique = [...new Set(ids.map((id) => id.toLowerCase()))];
    const found =
      kind === 'team' ? await deps.teams.existingTeams(tx, unique)
      : kind === 'user' ? (await deps.users.getUsers(tx, unique)).map((user) => user.id)
      : kind === 'escalation policy' ? await deps.policies.existingPolicies(tx, unique)
      : kind === 'schedule' ? await deps.schedules.existingSchedules(tx, unique)
      : await deps.incidents.existingIncidents(tx, unique);
    return new Set(found.map((id) => id.toLowerCase()));
  }

  /** Every reference that names nothing, as a problem naming its field. */
  async function unknown(tx: Tx, references: Reference[]): Promise<Problem[]> {
    const kinds = [...new Set(references.map((r) => r.kind))];
    const found = new Map(
      await Promise.all(kinds.map(async (kind) => [kind, await existing(tx, kind, references.filter((r) => r.kind === kind).map((r) => r.id))] as const)),
    );
    return references.filter((r) => !found.get(r.kind)!.has(r.id.toLowerCase())).map((r) => ({ field: r.field, message: `refers to no ${r.kind}` }));
  }

  return {
    unknown,
    /** Throws 400 VALIDATION_ERROR naming every reference that names nothing. */
    async check(tx: Tx, references: Reference[]): Promise<void> {
      throwIfProblems(await unknown(tx, references));
    },
    /**
     * The team an intake's incident goes to, or null when that team no longer exists. The alert
     * is never lost for it: the incident opens without a team (paging nobody) and its timeline
     * says why (SPEC section 2: never an incident for a team that does not exist).
     */
    async teamStillThere(tx: Tx, teamId: string | null): Promise<string | null> {
      if (teamId === null) return null;
      return (await deps.teams.existingTeams(tx, [teamId])).length > 0 ? teamId : null;
    },
  };
}

export type References = ReturnType<typeof makeReferences>;

/** The timeline entry of an intake incident opened without its team, which no longer exists (see teamStillThere). */
export function missingTeamEvent(incidentId: string, actor: string, teamId: string) {
  return {
    incident_id: incidentId,
    type: 'incident.team_missing' as const,
    actor,
    data: { team_id: teamId, message: `team ${teamId} no longer exists: the incident was opened without a team and nobody was paged` },
  };
}

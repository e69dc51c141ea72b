import { DomainError } from '../domain/errors.ts';
import type { Stores } from '../ports/unit-of-work.ts';

// SPEC section 2: a reference in a body must name something that exists, or the request is a
// 400 VALIDATION_ERROR whose details name each bad field. Checked in the use cases, inside their
// transaction, so every entry point (REST, integrations, workers, later the console) gets it.

export type Problem = { field: string; message: string };
export type ReferenceKind = 'team' | 'user' | 'escalation policy' | 'incident';
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

/** Which of these ids exist, per kind (one query per kind that is named). */
async function existing(stores: Stores, kind: ReferenceKind, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const unique = [...new Set(ids.map((id) => id.toLowerCase()))];
  const found =
    kind === 'team' ? await stores.teams.existing(unique)
    : kind === 'user' ? (await stores.users.getMany(unique)).map((user) => user.id)
    : kind === 'escalation policy' ? await stores.policies.existing(unique)
    : await stores.incidents.existing(unique);
  return new Set(found.map((id) => id.toLowerCase()));
}

/** Every reference that names nothing, as a problem naming its field. */
export async function unknownReferences(stores: Stores, references: Reference[]): Promise<Problem[]> {
  const kinds = [...new Set(references.map((r) => r.kind))];
  const found = new Map(await Promise.all(kinds.map(async (kind) => [kind, await existing(stores, kind, references.filter((r) => r.kind === kind).map((r) => r.id))] as const)));
  return references
    .filter((r) => !found.get(r.kind)!.has(r.id.toLowerCase()))
    .map((r) => ({ field: r.field, message: `refers to no ${r.kind}` }));
}

/** Throws 400 VALIDATION_ERROR naming every reference that names nothing. */
export async function checkReferences(stores: Stores, references: Reference[]): Promise<void> {
  throwIfProblems(await unknownReferences(stores, references));
}

/**
 * The team an intake's incident goes to, or null when that team no longer exists. The alert is
 * never lost for it: the incident opens without a team (paging nobody) and its timeline says why,
 * so whoever watches the incident list sees it (SPEC section 2: never an incident for a team that
 * does not exist).
 */
export async function teamStillThere(stores: Stores, teamId: string | null): Promise<string | null> {
  if (teamId === null) return null;
  return (await stores.teams.existing([teamId])).length > 0 ? teamId : null;
}

export function noteMissingTeam(stores: Stores, actor: string, incidentId: string, teamId: string) {
  return stores.timeline.append({
    incident_id: incidentId,
    type: 'incident.team_missing',
    actor,
    data: { team_id: teamId, message: `team ${teamId} no longer exists: the incident was opened without a team and nobody was paged` },
  });
}

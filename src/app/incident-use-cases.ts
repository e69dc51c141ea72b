import { DomainError, notFound } from '../domain/errors.ts';
import {
  decideTransition,
  diffIncident,
  incidentView,
  newIncident,
  transitionTimestamps,
  type Incident,
  type IncidentChanges,
  type IncidentStatus,
  type Severity,
  type TimelineEvent,
} from '../domain/incident.ts';
import type { Clock } from '../ports/clock.ts';
import type { ChangeFeed, Transact, Tx } from '../ports/transact.ts';
import type * as IncidentStore from '../adapters/postgres/incident-store.ts';
import type { IncidentIntake } from '../adapters/postgres/incident-intake.ts';
import type { Paging } from './paging.ts';
import type { Reference, References } from './references.ts';
import { newId } from './ids.ts';

// SPEC section 3: incidents, their state machine and their timeline. Every change appends its
// change event (SPEC section 7) in the same transaction.

export interface CreateIncidentInput {
  title: string;
  description?: string | null;
  severity?: Severity;
  team_id?: string | null;
  assignee_id?: string | null;
  source?: string;
  dedup_key?: string | null;
  /** Set when an integration or a heartbeat opens it (SPEC section 6). */
  integration_id?: string | null;
  details?: Record<string, unknown> | null;
}

export interface UpdateIncidentInput extends IncidentChanges {
  status?: IncidentStatus;
  note?: string;
  /** What the monitoring tool last said (SPEC section 6): replaces the details kept. */
  details?: Record<string, unknown>;
}

/** SPEC section 2: the team and the assignee an incident names must exist. */
function incidentReferences(input: { team_id?: string | null | undefined; assignee_id?: string | null | undefined }): Reference[] {
  return [
    ...(input.team_id ? [{ field: 'body.team_id', kind: 'team' as const, id: input.team_id }] : []),
    ...(input.assignee_id ? [{ field: 'body.assignee_id', kind: 'user' as const, id: input.assignee_id }] : []),
  ];
}

const createdEntry = (actor: string, incident: Incident) =>
  ({ actor, data: { title: incident.title, severity: incident.severity, source: incident.source } });

export function makeIncidentUseCases(deps: {
  transact: Transact;
  clock: Clock;
  incidents: typeof IncidentStore;
  /** POST /v1/incidents without paging: concurrent ones share a statement. */
  intake: Pick<IncidentIntake, 'open'>;
  changes: ChangeFeed;
  references: Pick<References, 'check'>;
  paging: Pick<Paging, 'start' | 'stop'>;
}) {
  const { incidents, changes } = deps;

  async function lockOrThrow(tx: Tx, id: string): Promise<Incident> {
    const incident = await incidents.lockIncident(tx, id);
    if (!incident) throw notFound('INCIDENT', id);
    return incident;
  }

  function comment(tx: Tx, actor: string, incident: Incident, body: string): Promise<TimelineEvent> {
    changes.append(tx, 'incident.updated', incidentView(incident));
    return incidents.appendTimeline(tx, { incident_id: incident.id, type: 'incident.comment', actor, data: { body } });
  }

  function build(actor: string, input: CreateIncidentInput): Incident {
    return newIncident(
      {
        title: input.title,
        description: input.description ?? null,
        severity: input.severity ?? 'P3',
        team_id: input.team_id ?? null,
        assignee_id: input.assignee_id ?? null,
        source: input.source ?? 'api',
        dedup_key: input.dedup_key ?? null,
        integration_id: input.integration_id ?? null,
        details: input.details ?? null,
      },
      newId(),
      actor,
      deps.clock.now(),
    );
  }

  /**
   * Opens an incident inside the caller's transaction; a team's incident pages level 0 at once.
   * `teamFound`: the caller has already found the team in this transaction with
   * `references.teamStillThere` (which holds it FOR KEY SHARE), so it is not looked up twice.
   */
  async function createWithin(tx: Tx, actor: string, input: CreateIncidentInput, teamFound = false): Promise<Incident> {
    // An incident is never opened for a team that does not exist: it would page nobody, silently.
    await deps.references.check(tx, incidentReferences(teamFound ? { ...input, team_id: null } : input));
    const incident = build(actor, input);
    changes.append(tx, 'incident.created', incidentView(incident));
    await incidents.insertIncident(tx, { incident, created: createdEntry(actor, incident) });
    if (incident.team_id === null) return incident;
    // SPEC section 5: paging changes the incident's notification_status, so it is read again.
    if (await deps.paging.start(tx, incident, actor)) return (await incidents.lockIncident(tx, incident.id))!;
    return incident;
  }

  /**
   * PATCH /v1/incidents/:id and PATCH /v1/incidents/:id/status, inside the caller's transaction.
   * `expectedVersion` carries If-Match: it is checked under the row lock, so two writers with
   * the same ETag cannot both win.
   */
  async function updateWithin(tx: Tx, actor: string, id: string, input: UpdateIncidentInput, expectedVersion?: number): Promise<Incident> {
    const current = await lockOrThrow(tx, id);
    if (expectedVersion !== undefined && current.version !== expectedVersion) {
      throw new DomainError('PRECONDITION_FAILED', 'the incident changed since the ETag given in If-Match', { current_etag: `"${current.version}"` });
    }
    const { status, note, details, ...fields } = input;
    await deps.references.check(tx, incidentReferences(fields));
    // Decide the transition before anything is written, so an invalid one changes nothing.
    const transition = status === undefined ? undefined : decideTransition(current.status, status);
    const fieldChanges = diffIncident(current, fields);
    const statusChanged = transition?.kind === 'changed';
    if (Object.keys(fieldChanges).length === 0 && !statusChanged && details === undefined) {
      if (note !== undefined && note.length > 0) await comment(tx, actor, current, note);
      return current;
    }

    const now = deps.clock.now();
    let updated = await incidents.updateIncident(tx, id, {
      ...fieldChanges,
      ...(details === undefined ? {} : { details }),
      ...(statusChanged ? { status, ...transitionTimestamps(transition.to, now) } : {}),
    }, now);
    if (Object.keys(fieldChanges).length > 0) {
      const before: Record<string, unknown> = {};
      for (const key of Object.keys(fieldChanges) as (keyof IncidentChanges)[]) before[key] = current[key];
      await incidents.appendTimeline(tx, { incident_id: id, type: 'incident.updated', actor, data: { changes: fieldChanges, before } });
    }
    if (statusChanged) {
      await incidents.appendTimeline(tx, {
        incident_id: id,
        type: 'incident.status_changed',
        actor,
        data: { from: transition.from, to: transition.to, ...(note ? { note } : {}) },
      });
    } else if (note !== undefined && note.length > 0) {
      await incidents.appendTimeline(tx, { incident_id: id, type: 'incident.comment', actor, data: { body: note } });
    }
    // SPEC section 5: acknowledging or resolving stops the escalation and tells those already
    // paged; an open incident moved to another team stops the old policy and starts the new one.
    let paged = false;
    if (statusChanged && (transition.to === 'acknowledged' || transition.to === 'resolved')) {
      paged = await deps.paging.stop(tx, updated, transition.to, actor, note);
    } else if (fieldChanges.team_id !== undefined && updated.status === 'open') {
      paged = await deps.paging.stop(tx, updated, 'reassigned', actor);
      paged = (await deps.paging.start(tx, updated, actor)) || paged;
    }
    if (paged) updated = (await incidents.lockIncident(tx, id))!;
    changes.append(tx, 'incident.updated', incidentView(updated));
    return updated;
  }

  return {
    createWithin,
    updateWithin,

    /**
     * POST /v1/incidents. Without a team or an assignee to check, nothing is read first: one
     * statement, shared with the requests that arrive meanwhile.
     */
    async create(actor: string, input: CreateIncidentInput): Promise<Incident> {
      if (incidentReferences(input).length === 0 && !input.integration_id) {
        const incident = build(actor, input);
        await deps.intake.open({ incident, created: createdEntry(actor, incident) }, incidentView(incident));
        return incident;
      }
      return deps.transact((tx) => createWithin(tx, actor, input));
    },

    update(actor: string, id: string, input: UpdateIncidentInput, expectedVersion?: number): Promise<Incident> {
      return deps.transact((tx) => updateWithin(tx, actor, id, input, expectedVersion));
    },

    /** POST /v1/incidents/:id/comments, inside the caller's transaction. */
    async commentWithin(tx: Tx, actor: string, id: string, body: string): Promise<TimelineEvent> {
      return comment(tx, actor, await lockOrThrow(tx, id), body);
    },
    comment(actor: string, id: string, body: string): Promise<TimelineEvent> {
      return deps.transact(async (tx) => comment(tx, actor, await lockOrThrow(tx, id), body));
    },

    /** DELETE /v1/incidents/:id: the timeline goes with it. */
    async remove(id: string): Promise<void> {
      await deps.transact(async (tx) => {
        if (!(await incidents.deleteIncident(tx, id))) throw notFound('INCIDENT', id);
        changes.append(tx, 'incident.deleted', { id });
      });
    },
  };
}

export type IncidentUseCases = ReturnType<typeof makeIncidentUseCases>;

import { DomainError, notFound } from '../domain/errors.ts';
import {
  decideTransition,
  diffIncident,
  transitionTimestamps,
  type Incident,
  type IncidentChanges,
  type IncidentStatus,
  type Severity,
} from '../domain/incident.ts';
import type { Channel } from '../domain/notification.ts';
import type { Clock } from '../ports/clock.ts';
import type { Stores, Transact } from '../ports/unit-of-work.ts';
import { startPaging, stopPaging } from './paging.ts';
import { checkReferences, type Reference } from './references.ts';

/** Who acts, and the transaction to act in. Built per request by the HTTP adapter. */
export interface Context {
  transact: Transact;
  clock: Clock;
  actor: string;
  /** Channels this server cannot deliver on are skipped when paging (see src/app/paging.ts). */
  channelProblem?: (channel: Channel) => string | null;
}

export interface CreateIncidentInput {
  title: string;
  description?: string | null;
  severity?: Severity;
  team_id?: string | null;
  assignee_id?: string | null;
  source?: string;
  dedup_key?: string | null;
}

/** SPEC section 2: the team and the assignee an incident names must exist. */
function incidentReferences(input: { team_id?: string | null; assignee_id?: string | null }): Reference[] {
  return [
    ...(input.team_id ? [{ field: 'body.team_id', kind: 'team' as const, id: input.team_id }] : []),
    ...(input.assignee_id ? [{ field: 'body.assignee_id', kind: 'user' as const, id: input.assignee_id }] : []),
  ];
}

export async function createIncident(ctx: Context, input: CreateIncidentInput): Promise<Incident> {
  const row = {
    title: input.title,
    description: input.description ?? null,
    severity: input.severity ?? 'P3',
    team_id: input.team_id ?? null,
    assignee_id: input.assignee_id ?? null,
    source: input.source ?? 'api',
    dedup_key: input.dedup_key ?? null,
    created_by: ctx.actor,
  };
  const created = { actor: ctx.actor, data: { title: row.title, severity: row.severity, source: row.source } };
  const references = incidentReferences(row);
  // Without a team or an assignee to check nobody is paged, and the incident with its timeline
  // entry is one statement.
  if (references.length === 0) return ctx.transact.single(({ incidents }) => incidents.insert(row, created));
  return ctx.transact(async (stores) => {
    // An incident is never opened for a team that does not exist: it would page nobody, silently.
    await checkReferences(stores, references);
    const incident = await stores.incidents.insert(row, created);
    if (row.team_id === null) return incident;
    // SPEC section 5: a new incident of a team pages its policy's level 0 at once. Paging
    // changes the incident's notification_status, so the incident is read again.
    if (await startPaging(stores, ctx, incident)) return (await stores.incidents.lock(incident.id))!;
    return incident;
  });
}

export interface UpdateIncidentInput extends IncidentChanges {
  status?: IncidentStatus;
  note?: string;
}

/**
 * PATCH /v1/incidents/:id and PATCH /v1/incidents/:id/status. `expectedVersion` carries If-Match:
 * it is checked under the row lock, so two writers with the same ETag cannot both win.
 */
export async function updateIncident(
  ctx: Context,
  id: string,
  input: UpdateIncidentInput,
  expectedVersion?: number,
): Promise<Incident> {
  return ctx.transact(async (stores) => {
    const current = await lockOrThrow(stores, id);
    if (expectedVersion !== undefined && current.version !== expectedVersion) {
      throw new DomainError('PRECONDITION_FAILED', 'the incident changed since the ETag given in If-Match', {
        current_etag: `"${current.version}"`,
      });
    }
    const { status, note, ...fields } = input;
    await checkReferences(stores, incidentReferences(fields));
    // Decide the transition before anything is written, so an invalid one changes nothing.
    const transition = status === undefined ? undefined : decideTransition(current.status, status);
    const changes = diffIncident(current, fields);
    const statusChanged = transition?.kind === 'changed';
    if (Object.keys(changes).length === 0 && !statusChanged) {
      if (note !== undefined && note.length > 0) await appendComment(stores, ctx.actor, id, note);
      return current;
    }

    const now = ctx.clock.now();
    const updated = await stores.incidents.update(id, {
      ...changes,
      ...(statusChanged ? { status, ...transitionTimestamps(transition.to, now) } : {}),
    }, now);
    if (Object.keys(changes).length > 0) {
      const before: Record<string, unknown> = {};
      for (const key of Object.keys(changes) as (keyof IncidentChanges)[]) before[key] = current[key];
      await stores.timeline.append({
        incident_id: id,
        type: 'incident.updated',
        actor: ctx.actor,
        data: { changes, before },
      });
    }
    if (statusChanged) {
      await stores.timeline.append({
        incident_id: id,
        type: 'incident.status_changed',
        actor: ctx.actor,
        data: { from: transition.from, to: transition.to, ...(note ? { note } : {}) },
      });
    } else if (note !== undefined && note.length > 0) {
      await appendComment(stores, ctx.actor, id, note);
    }
    // SPEC section 5: acknowledging or resolving stops the escalation and tells those already
    // paged; an open incident moved to another team stops the old policy and starts the new one.
    let paged = false;
    if (statusChanged && (transition.to === 'acknowledged' || transition.to === 'resolved')) {
      paged = await stopPaging(stores, ctx, updated, transition.to, note);
    } else if (changes.team_id !== undefined && updated.status === 'open') {
      paged = await stopPaging(stores, ctx, updated, 'reassigned');
      paged = (await startPaging(stores, ctx, updated)) || paged;
    }
    return paged ? (await stores.incidents.lock(id))! : updated;
  });
}

export async function commentOnIncident(ctx: Context, id: string, body: string) {
  return ctx.transact(async (stores) => {
    await lockOrThrow(stores, id);
    return appendComment(stores, ctx.actor, id, body);
  });
}

export async function deleteIncident(ctx: Context, id: string): Promise<void> {
  await ctx.transact(async ({ incidents }) => {
    if (!(await incidents.remove(id))) throw notFound('INCIDENT', id);
  });
}

async function lockOrThrow(stores: Stores, id: string): Promise<Incident> {
  const incident = await stores.incidents.lock(id);
  if (!incident) throw notFound('INCIDENT', id);
  return incident;
}

function appendComment(stores: Stores, actor: string, incidentId: string, body: string) {
  return stores.timeline.append({ incident_id: incidentId, type: 'incident.comment', actor, data: { body } });
}

import { DomainError } from './errors.ts';

export const severities = ['P1', 'P2', 'P3', 'P4'] as const;
export type Severity = (typeof severities)[number];

export const incidentStatuses = ['open', 'acknowledged', 'resolved'] as const;
export type IncidentStatus = (typeof incidentStatuses)[number];

export const notificationSummaries = ['none', 'pending', 'sent', 'partial', 'failed'] as const;
export type NotificationSummary = (typeof notificationSummaries)[number];

export interface Incident {
  id: string;
  title: string;
  description: string | null;
  severity: Severity;
  status: IncidentStatus;
  team_id: string | null;
  assignee_id: string | null;
  source: string;
  dedup_key: string | null;
  created_by: string;
  notification_status: NotificationSummary;
  /** Bumped by every change; the ETag of the incident (SPEC section 2). */
  version: number;
  created_at: Date;
  updated_at: Date;
  acknowledged_at: Date | null;
  resolved_at: Date | null;
  /** The integration that opened it (SPEC section 6), and what the monitoring tool last said. */
  integration_id: string | null;
  details: Record<string, unknown> | null;
}

// SPEC section 3: open → acknowledged, open → resolved, acknowledged → resolved. Resolved is final.
const allowedTransitions: Record<IncidentStatus, readonly IncidentStatus[]> = {
  open: ['acknowledged', 'resolved'],
  acknowledged: ['resolved'],
  resolved: [],
};

export type TransitionDecision =
  | { kind: 'unchanged' }
  | { kind: 'changed'; from: IncidentStatus; to: IncidentStatus };

/**
 * Decides a status change. The same status again is an idempotent no-op; anything not in the
 * table is refused with the details the SPEC promises (`from`, `to`, `allowed`).
 */
export function decideTransition(from: IncidentStatus, to: IncidentStatus): TransitionDecision {
  if (from === to) return { kind: 'unchanged' };
  const allowed = allowedTransitions[from];
  if (!allowed.includes(to)) {
    throw new DomainError(
      'INVALID_STATUS_TRANSITION',
      allowed.length === 0
        ? `incident is ${from}, which is final`
        : `cannot move an incident from ${from} to ${to}`,
      { from, to, allowed: [...allowed] },
    );
  }
  return { kind: 'changed', from, to };
}

/** The timestamp columns a transition sets, so that the store stays free of rules. */
export function transitionTimestamps(to: IncidentStatus, at: Date): { acknowledged_at?: Date; resolved_at?: Date } {
  if (to === 'acknowledged') return { acknowledged_at: at };
  if (to === 'resolved') return { resolved_at: at };
  return {};
}

export type IncidentChanges = Partial<
  Pick<Incident, 'title' | 'description' | 'severity' | 'team_id' | 'assignee_id'>
>;

/** The fields a PATCH really changes: a field sent with its current value is not a change. */
export function diffIncident(current: Incident, requested: IncidentChanges): IncidentChanges {
  const changed: IncidentChanges = {};
  for (const key of Object.keys(requested) as (keyof IncidentChanges)[]) {
    const value = requested[key];
    if (value !== undefined && value !== current[key]) {
      (changed as Record<string, unknown>)[key] = value;
    }
  }
  return changed;
}

export const timelineEventTypes = [
  'incident.created',
  'incident.updated',
  'incident.status_changed',
  'incident.comment',
  // SPEC section 2: an intake's team no longer existed, so the incident opened without one.
  'incident.team_missing',
  'notification.sent',
  'notification.failed',
  // SPEC section 6: an event from an integration, and a heartbeat that went quiet or came back.
  'alert.received',
  'heartbeat.missed',
  'heartbeat.recovered',
  // SPEC section 5: a level paged, the next one scheduled, paging stopped or done, and the people
  // already paged told who acknowledged or resolved the incident.
  'escalation.paged',
  'escalation.scheduled',
  'escalation.stopped',
  'escalation.exhausted',
  // SPEC section 5: a level whose schedules had nobody on call; the next level was paged at once.
  'escalation.level_empty',
  'escalation.outcome_notified',
] as const;
export type TimelineEventType = (typeof timelineEventTypes)[number];

export interface TimelineEvent {
  id: string;
  incident_id: string;
  type: TimelineEventType;
  actor: string;
  /** SPEC section 10: the person's (or the key's) name; null for Tocsin itself. Set when read. */
  actor_name?: string | null;
  data: Record<string, unknown>;
  created_at: Date;
}

/** A new incident, every field decided before it is written (so its change event is written with it). */
export function newIncident(
  input: Pick<Incident, 'title' | 'description' | 'severity' | 'team_id' | 'assignee_id' | 'source' | 'dedup_key'> &
    Partial<Pick<Incident, 'integration_id' | 'details'>>,
  id: string,
  actor: string,
  at: Date,
): Incident {
  return {
    id,
    title: input.title,
    description: input.description,
    severity: input.severity,
    status: 'open',
    team_id: input.team_id,
    assignee_id: input.assignee_id,
    source: input.source,
    dedup_key: input.dedup_key,
    created_by: actor,
    notification_status: 'none',
    version: 1,
    created_at: at,
    updated_at: at,
    acknowledged_at: null,
    resolved_at: null,
    integration_id: input.integration_id ?? null,
    details: input.details ?? null,
  };
}

/**
 * The incident as clients see it (GET /v1/incidents/:id, and the `data` of its change events,
 * SPEC section 7): everything but the version, which is its ETag.
 */
export function incidentView(incident: Incident) {
  return {
    id: incident.id,
    title: incident.title,
    description: incident.description,
    severity: incident.severity,
    status: incident.status,
    team_id: incident.team_id,
    assignee_id: incident.assignee_id,
    source: incident.source,
    dedup_key: incident.dedup_key,
    created_by: incident.created_by,
    notification_status: incident.notification_status,
    created_at: incident.created_at.toISOString(),
    updated_at: incident.updated_at.toISOString(),
    acknowledged_at: incident.acknowledged_at?.toISOString() ?? null,
    resolved_at: incident.resolved_at?.toISOString() ?? null,
    integration_id: incident.integration_id,
    details: incident.details,
  };
}

export type IncidentView = ReturnType<typeof incidentView>;

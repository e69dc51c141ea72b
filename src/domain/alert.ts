import type { IncidentStatus, Severity } from './incident.ts';

// SPEC section 6: what an event from a monitoring tool asks of Tocsin, once its own format (Events
// v2, Alertmanager webhook) has been read. Both formats end up here, so they share one dedup rule.

export const integrationTypes = ['events_v2', 'alertmanager'] as const;
export type IntegrationType = (typeof integrationTypes)[number];

export interface Integration {
  id: string;
  type: IntegrationType;
  name: string;
  team_id: string | null;
  key_prefix: string;
  created_at: Date;
}

/** How an integration is written in `created_by` and on the timeline. */
export const integrationActor = (integration: Pick<Integration, 'name'>): string => `integration:${integration.name}`;

export type AlertAction =
  | {
      kind: 'trigger';
      dedup_key: string;
      /** Used only when the trigger opens a new incident. */
      incident: { title: string; description: string | null; severity: Severity };
      details: Record<string, unknown>;
    }
  | { kind: 'acknowledge' | 'resolve'; dedup_key: string; details: Record<string, unknown> };

export type AlertDecision =
  /** No unresolved incident has this key: a trigger opens one. */
  | { kind: 'open' }
  /** A trigger for an unresolved incident adds to it (timeline and details) instead of opening another. */
  | { kind: 'append' }
  /** acknowledge or resolve move the unresolved incident through the state machine. */
  | { kind: 'transition'; to: IncidentStatus }
  /** acknowledge or resolve of a key with no unresolved incident: accepted and changes nothing, as PagerDuty does. */
  | { kind: 'ignore' };

/**
 * The dedup rule (SPEC section 6). `open` is the status of the integration's unresolved incident
 * with the action's dedup_key, if there is one; a resolved incident never matches, so after
 * resolution the same key opens a new incident.
 */
export function decideAlert(kind: AlertAction['kind'], open: IncidentStatus | undefined): AlertDecision {
  if (kind === 'trigger') return open === undefined ? { kind: 'open' } : { kind: 'append' };
  if (open === undefined) return { kind: 'ignore' };
  return { kind: 'transition', to: kind === 'acknowledge' ? 'acknowledged' : 'resolved' };
}

/** What an incident's title may hold (SPEC section 3): 1-200 characters, counted as code points. */
export function toTitle(text: string, fallback: string): string {
  const trimmed = text.trim();
  const chars = Array.from(trimmed.length > 0 ? trimmed : fallback);
  return chars.length <= 200 ? chars.join('') : `${chars.slice(0, 199).join('')}…`;
}

import type { Severity } from './incident.ts';

// Heartbeats (SPEC section 6): a cron job or a service pings its heartbeat's URL at least every
// `interval_seconds`. A missed interval opens one incident naming the heartbeat; the next ping
// resolves it.

export const heartbeatStatuses = ['up', 'down'] as const;
export type HeartbeatStatus = (typeof heartbeatStatuses)[number];

export interface Heartbeat {
  id: string;
  name: string;
  interval_seconds: number;
  team_id: string | null;
  key_prefix: string;
  /** up: pinged in time (or not yet due); down: the deadline passed and an incident was opened. */
  status: HeartbeatStatus;
  last_ping_at: Date | null;
  /** The next ping is due by then: the last ping (or the creation) plus the interval. */
  due_at: Date;
  /** The incident the last miss opened, until a ping resolves it. */
  incident_id: string | null;
  created_at: Date;
  updated_at: Date;
}

/** How a heartbeat is written in `created_by` and on the timeline. */
export const heartbeatActor = (heartbeat: Pick<Heartbeat, 'name'>): string => `heartbeat:${heartbeat.name}`;

/** The dedup_key of a heartbeat's incidents, so that they can be found by it. */
export const heartbeatDedupKey = (heartbeat: Pick<Heartbeat, 'id'>): string => `heartbeat:${heartbeat.id}`;

/** A missed heartbeat is urgent but not everything-is-down urgent. */
export const HEARTBEAT_SEVERITY: Severity = 'P2';

export function nextDue(from: Date, intervalSeconds: number): Date {
  return new Date(from.getTime() + intervalSeconds * 1000);
}

export type CheckDecision =
  /** The deadline passed without a ping: open the incident and mark the heartbeat down. */
  | { kind: 'missed' }
  /** A ping moved the deadline since this check was scheduled: check again then. */
  | { kind: 'check_again'; at: Date }
  /** Already down (its incident is open); the next ping, not a check, changes that. */
  | { kind: 'nothing' };

export function decideCheck(heartbeat: Pick<Heartbeat, 'status' | 'due_at'>, now: Date): CheckDecision {
  if (heartbeat.status === 'down') return { kind: 'nothing' };
  if (heartbeat.due_at.getTime() > now.getTime()) return { kind: 'check_again', at: heartbeat.due_at };
  return { kind: 'missed' };
}

export function missedIncident(heartbeat: Pick<Heartbeat, 'name' | 'interval_seconds' | 'last_ping_at' | 'created_at'>) {
  const name = Array.from(heartbeat.name);
  const shown = name.length > 150 ? `${name.slice(0, 149).join('')}…` : heartbeat.name;
  const since = heartbeat.last_ping_at
    ? `the last ping was at ${heartbeat.last_ping_at.toISOString()}`
    : `it was never pinged since it was created at ${heartbeat.created_at.toISOString()}`;
  return {
    title: `Heartbeat "${shown}" missed`,
    description: `No ping within ${heartbeat.interval_seconds} s; ${since}.`,
    severity: HEARTBEAT_SEVERITY,
  };
}

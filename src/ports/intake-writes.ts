import type { Integration, IntegrationType } from '../domain/alert.ts';
import type { Heartbeat } from '../domain/heartbeat.ts';
import type { IncidentStatus } from '../domain/incident.ts';

// What the integration and heartbeat use cases may do inside a unit of work (SPEC section 6),
// beside the incident and timeline writes that every incident change goes through.

export interface AlertWrites {
  /** Inserts an integration with the hash of its new key. */
  insertIntegration(row: { type: IntegrationType; name: string; team_id: string | null; key_hash: string; key_prefix: string }): Promise<Integration>;
  /**
   * Serialises every event for one (integration, dedup_key) until the transaction ends, so two
   * triggers racing for a new key open one incident, not two.
   */
  lockKey(integrationId: string, dedupKey: string): Promise<void>;
  /** The integration's unresolved incident with this dedup_key, if any, row-locked. */
  findOpen(integrationId: string, dedupKey: string): Promise<{ id: string; status: IncidentStatus } | undefined>;
  /** Links an incident just opened to its integration (or none, for a heartbeat) and keeps the event's details. */
  attach(incidentId: string, link: { integration_id: string | null; details: Record<string, unknown> }): Promise<void>;
  /** Replaces the details kept on an incident with the latest event's (a new version of the incident). */
  setDetails(incidentId: string, details: Record<string, unknown>, at: Date): Promise<void>;
}

export interface NewHeartbeatRow {
  name: string;
  interval_seconds: number;
  team_id: string | null;
  key_hash: string;
  key_prefix: string;
}

export interface HeartbeatWrites {
  /** Inserts a heartbeat due one interval after now (the database's clock). */
  insert(row: NewHeartbeatRow): Promise<Heartbeat>;
  /**
   * Reads and row-locks a heartbeat, with the database's clock: deadlines are compared with the
   * one clock every API and worker process shares, which is also the clock pg-boss schedules by.
   */
  lock(id: string): Promise<{ heartbeat: Heartbeat; now: Date } | undefined>;
  update(id: string, changes: Partial<Pick<Heartbeat, 'status' | 'last_ping_at' | 'due_at' | 'incident_id'>>): Promise<Heartbeat>;
}

/** The queue side of heartbeats: the job that checks one heartbeat at a given time. */
export interface HeartbeatCheckWrites {
  /** Makes sure a check of this heartbeat runs at `at` or earlier (a no-op if one is already waiting). */
  arm(heartbeatId: string, at: Date): Promise<void>;
}

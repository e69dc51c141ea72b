import type { Incident, IncidentChanges, IncidentStatus, Severity, TimelineEvent, TimelineEventType } from '../domain/incident.ts';

/**
 * What a use case may do inside one transaction. The PostgreSQL adapter binds every store to the
 * same transaction, so an incident, its timeline and (from the notification issue on) its jobs
 * commit or vanish together (STYLE habit 2).
 */
export interface Stores {
  incidents: IncidentWrites;
  timeline: TimelineWrites;
}

export type Transact = <T>(work: (stores: Stores) => Promise<T>) => Promise<T>;

export interface NewIncidentRow {
  title: string;
  description: string | null;
  severity: Severity;
  team_id: string | null;
  assignee_id: string | null;
  source: string;
  dedup_key: string | null;
  created_by: string;
}

export interface IncidentWrites {
  insert(row: NewIncidentRow): Promise<Incident>;
  /** Reads and row-locks an incident until the transaction ends. */
  lock(id: string): Promise<Incident | undefined>;
  update(
    id: string,
    changes: IncidentChanges & {
      status?: IncidentStatus;
      acknowledged_at?: Date;
      resolved_at?: Date;
    },
    at: Date,
  ): Promise<Incident>;
  remove(id: string): Promise<boolean>;
}

export interface TimelineWrites {
  append(event: { incident_id: string; type: TimelineEventType; actor: string; data: Record<string, unknown> }): Promise<TimelineEvent>;
}

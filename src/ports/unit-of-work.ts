import type { Incident, IncidentChanges, IncidentStatus, Severity, TimelineEvent, TimelineEventType } from '../domain/incident.ts';
import type { Attempt, Channel, Notification, NotificationStatus, Priority } from '../domain/notification.ts';
import type { AlertWrites, HeartbeatCheckWrites, HeartbeatWrites } from './intake-writes.ts';
import type { EscalationJobWrites, EscalationWrites, PolicyWrites, TeamWrites, TemplateWrites, UserWrites } from './people-writes.ts';

/**
 * What a use case may do inside one transaction. The PostgreSQL adapter binds every store to the
 * same transaction, so an incident, its timeline and (from the notification issue on) its jobs
 * commit or vanish together (STYLE habit 2).
 */
export interface Stores {
  incidents: IncidentWrites;
  timeline: TimelineWrites;
  notifications: NotificationWrites;
  jobs: JobWrites;
  /** SPEC section 6: integration events and heartbeats (src/ports/intake-writes.ts). */
  alerts: AlertWrites;
  heartbeats: HeartbeatWrites;
  heartbeatChecks: HeartbeatCheckWrites;
  /** SPEC section 5: templates, people and escalation (src/ports/people-writes.ts). */
  templates: TemplateWrites;
  users: UserWrites;
  policies: PolicyWrites;
  teams: TeamWrites;
  escalations: EscalationWrites;
  escalationJobs: EscalationJobWrites;
}

export interface Transact {
  <T>(work: (stores: Stores) => Promise<T>): Promise<T>;
  /**
   * For a unit of work that is ONE statement, which PostgreSQL makes atomic by itself: it runs
   * without BEGIN and COMMIT, two round trips fewer (the hot path of POST /v1/incidents). Inside
   * a transaction someone else opened it simply runs there.
   */
  single<T>(work: (stores: Stores) => Promise<T>): Promise<T>;
}

/** A Transact that runs every unit of work in stores already bound to an open transaction. */
export function within(stores: Stores): Transact {
  const run = <T>(work: (bound: Stores) => Promise<T>): Promise<T> => work(stores);
  return Object.assign(run, { single: run });
}

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
  /** Inserts an incident and its first timeline entry, in one statement. */
  insert(row: NewIncidentRow, created: { actor: string; data: Record<string, unknown> }): Promise<Incident>;
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
  /** Which of these ids are incidents. */
  existing(ids: string[]): Promise<string[]>;
}

export interface NewTimelineEvent {
  incident_id: string;
  type: TimelineEventType;
  actor: string;
  data: Record<string, unknown>;
}

export interface TimelineWrites {
  append(event: NewTimelineEvent): Promise<TimelineEvent>;
  appendMany(events: NewTimelineEvent[]): Promise<void>;
}

export interface NewNotificationRow {
  id: string;
  channel: Channel;
  recipient: string;
  subject: string | null;
  content: string;
  priority: Priority;
  status: 'scheduled' | 'queued';
  scheduled_at: Date | null;
  max_retries: number;
  batch_id: string | null;
  incident_id: string | null;
  metadata: Record<string, unknown>;
  job_id: string;
  /** The user it was sent to by user_id or paged (SPEC section 5). */
  user_id?: string | null;
  /** 'html' when rendered from an email template; plain text otherwise. */
  content_type?: 'text' | 'html';
}

/** How one delivery attempt ended, to be written with the notification's new state. */
export interface AttemptRecord {
  notification_id: string;
  attempt: Attempt;
  status: NotificationStatus;
  /** Set when a retry job replaces the current one. */
  job_id?: string;
  last_error: string | null;
  sent_at: Date | null;
}

export interface NotificationWrites {
  insertMany(rows: NewNotificationRow[]): Promise<Notification[]>;
  lock(id: string): Promise<Notification | undefined>;
  /** The notification's incident (unlocked), null if none, undefined if there is no such notification. */
  incidentOf(id: string): Promise<string | null | undefined>;
  update(id: string, changes: Partial<Pick<Notification, 'status' | 'job_id' | 'retry_count' | 'last_error'>>): Promise<Notification>;
  /**
   * Writes the attempts and the notifications' new states of a batch, in one statement. Every
   * attempt row is written (once: a repeated write changes nothing); a new state only where the
   * notification is still `sending` under the claim that numbered the attempt, so a worker whose
   * job was taken over cannot overwrite the new holder's outcome. Returns the ids whose state
   * this write changed.
   */
  recordAttempts(records: AttemptRecord[]): Promise<string[]>;
  /**
   * Hands claimed but unattempted notifications back to `queued` under a new job and gives their
   * attempt numbers back, under the same guard as recordAttempts. Returns the ids it changed.
   */
  requeue(items: { notification_id: string; attempt: number; job_id: string }[]): Promise<string[]>;
  /**
   * Recomputes `notification_status` of these incidents from their notifications, holding their
   * locks until the transaction ends. Returns the ids of those that still exist.
   */
  refreshIncidentSummaries(incidentIds: string[]): Promise<string[]>;
}

export interface DeliveryJob {
  id: string;
  channel: Channel;
  notification_id: string;
  priority: Priority;
  start_after: Date | null;
}

/** The queue, bound to the same transaction as the rows (pg-boss with a kysely adapter). */
export interface JobWrites {
  enqueue(jobs: DeliveryJob[]): Promise<void>;
  cancel(channel: Channel, jobId: string): Promise<void>;
  /** Puts the jobs of notifications that failed for good into their channel's dead letter queue. */
  deadLetter(channel: Channel, notificationIds: string[]): Promise<void>;
  /** Removes the notification's job from the channel's dead letter queue (redrive). */
  removeDeadLetter(channel: Channel, notificationId: string): Promise<void>;
}

import type { EscalationLevel, EscalationPolicy, Team } from '../domain/escalation.ts';
import type { Channel } from '../domain/notification.ts';
import type { Template } from '../domain/template.ts';
import type { StoredPreferences, User } from '../domain/user.ts';

// What the template, people and escalation use cases may do inside a unit of work (SPEC
// section 5), beside the incident, timeline, notification and job writes.

export interface NewTemplateRow {
  slug: string;
  channel: Channel;
  locale: string;
  subject: string | null;
  body: string;
  created_by: string;
}

export interface TemplateWrites {
  /** Adds the next version of (slug, channel, locale); concurrent additions queue, never collide. */
  addVersion(row: NewTemplateRow): Promise<Template>;
  /** The latest version of the slug for the channel, in the first of `locales` that has one. */
  findLatest(slug: string, channel: Channel, locales: string[]): Promise<Template | undefined>;
  /** The channels the slug has templates for. */
  channelsOf(slug: string): Promise<Channel[]>;
}

export interface NewUserRow {
  name: string;
  email: string;
  phone: string | null;
  locale: string;
  timezone: string;
  preferences: StoredPreferences;
  contact_methods: { type: Channel; address: string }[];
}

export type UserChanges = Partial<Omit<NewUserRow, 'preferences'>> & { preferences?: StoredPreferences };

export interface UserWrites {
  insert(row: NewUserRow): Promise<User>;
  /** Reads and row-locks a user until the transaction ends. */
  lock(id: string): Promise<User | undefined>;
  update(id: string, changes: UserChanges): Promise<User>;
  /** The users with these ids that exist, with their contact methods. */
  getMany(ids: string[]): Promise<User[]>;
  /** The id of the user with this email address (any case), if there is one. */
  idByEmail(email: string): Promise<string | undefined>;
}

export interface PolicyWrites {
  insert(row: { name: string; repeat: number; levels: EscalationLevel[] }): Promise<EscalationPolicy>;
  get(id: string): Promise<EscalationPolicy | undefined>;
  /** Which of these ids are policies. */
  existing(ids: string[]): Promise<string[]>;
}

export interface TeamWrites {
  insert(row: { name: string; member_ids: string[]; escalation_policy_id: string | null }): Promise<Team>;
  get(id: string): Promise<Team | undefined>;
  /** Which of these ids are teams. */
  existing(ids: string[]): Promise<string[]>;
}

/** One step of an incident's escalation (table incident_escalations). */
export interface EscalationStepRow {
  incident_id: string;
  run: number;
  round: number;
  level: number;
  policy_id: string;
  status: 'scheduled' | 'paged' | 'cancelled';
  due_at: Date;
  paged_at: Date | null;
  job_id: string | null;
}

/** Someone an incident paged, and where: the people to tell when it is acknowledged or resolved. */
export interface PagedRecipient {
  user_id: string;
  channel: Channel;
  recipient: string;
}

export interface EscalationWrites {
  /** The next run number of the incident: 0 for its first paging, one more for each restart. */
  nextRun(incidentId: string): Promise<number>;
  /** Records a step; false when that step of that run already exists (it is never paged twice). */
  insert(row: EscalationStepRow): Promise<boolean>;
  /** Reads and row-locks one step. */
  lock(key: { incident_id: string; run: number; round: number; level: number }): Promise<EscalationStepRow | undefined>;
  markPaged(key: { incident_id: string; run: number; round: number; level: number }, at: Date): Promise<void>;
  /** Cancels every step still scheduled for the incident and returns them, locked. */
  cancelScheduled(incidentId: string): Promise<EscalationStepRow[]>;
  /** Page notifications of the incident that are held back (quiet hours), with their jobs. */
  heldPages(incidentId: string): Promise<{ id: string; channel: Channel; job_id: string | null }[]>;
  /** Everyone a page of the incident went (or is going) to, once per user, channel and address. */
  pagedRecipients(incidentId: string): Promise<PagedRecipient[]>;
}

/** The queue side of escalation: one job per scheduled step, run at its due time. */
export interface EscalationJobWrites {
  schedule(job: { id: string; incident_id: string; run: number; round: number; level: number; start_after: Date }): Promise<void>;
  cancel(jobId: string): Promise<void>;
}

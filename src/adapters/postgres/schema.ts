import type { ColumnType, Generated } from 'kysely';

// The tables as kysely sees them. Kept by hand beside the migrations in /migrations.

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface ApiKeysTable {
  id: Generated<string>;
  name: string;
  scopes: string[];
  key_hash: string;
  key_prefix: string;
  created_at: Timestamp;
  revoked_at: NullableTimestamp;
}

export interface IncidentsTable {
  id: Generated<string>;
  title: string;
  description: string | null;
  severity: string;
  status: Generated<string>;
  team_id: string | null;
  assignee_id: string | null;
  source: Generated<string>;
  dedup_key: string | null;
  created_by: string;
  notification_status: Generated<string>;
  version: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
  acknowledged_at: NullableTimestamp;
  resolved_at: NullableTimestamp;
  search: ColumnType<unknown, never, never>;
  /** Set when an integration opened it (migration 2026-11-22T03-00). */
  integration_id: ColumnType<string | null, string | null | undefined, string | null>;
  details: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
}

export interface IncidentEventsTable {
  id: Generated<string>;
  incident_id: string;
  seq: ColumnType<string, never, never>;
  type: string;
  actor: string;
  data: ColumnType<Record<string, unknown>, string, string>;
  created_at: Timestamp;
}

export interface IdempotencyKeysTable {
  scope: string;
  key: string;
  request_hash: string;
  response_status: number | null;
  response_body: ColumnType<unknown, string | null, string | null>;
  response_headers: ColumnType<Record<string, string> | null, string | null, string | null>;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export interface RateLimitHitsTable {
  key: string;
  window_start: Timestamp;
  window_ms: number;
  hits: number;
}

export interface NotificationsTable {
  id: string;
  channel: string;
  recipient: string;
  user_id: string | null;
  subject: string | null;
  content: string;
  priority: string;
  status: string;
  scheduled_at: NullableTimestamp;
  max_retries: number;
  retry_count: Generated<number>;
  attempt_count: Generated<number>;
  batch_id: string | null;
  incident_id: string | null;
  metadata: ColumnType<Record<string, unknown>, string, string>;
  job_id: string | null;
  last_error: string | null;
  sent_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** 'html' for a body rendered from an email template (migration 2026-11-22T02-00). */
  content_type: Generated<string>;
}

export interface NotificationAttemptsTable {
  notification_id: string;
  attempt: number;
  at: Timestamp;
  outcome: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

export interface ChannelRateWindowsTable {
  channel: string;
  window_start: Timestamp;
  used: number;
}

export interface SettingsTable {
  name: string;
  value: string;
  created_at: Timestamp;
}

export interface IntegrationsTable {
  id: Generated<string>;
  type: string;
  name: string;
  team_id: string | null;
  key_hash: string;
  key_prefix: string;
  created_at: Timestamp;
  revoked_at: NullableTimestamp;
}

export interface HeartbeatsTable {
  id: Generated<string>;
  name: string;
  interval_seconds: number;
  team_id: string | null;
  key_hash: string;
  key_prefix: string;
  status: Generated<string>;
  last_ping_at: NullableTimestamp;
  due_at: Timestamp;
  incident_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

// SPEC section 5 (migration 2026-11-22T02-00_people).
export interface TemplatesTable {
  id: Generated<string>;
  slug: string;
  channel: string;
  locale: string;
  version: number;
  subject: string | null;
  body: string;
  created_by: string;
  created_at: Timestamp;
}

export interface UsersTable {
  id: Generated<string>;
  name: string;
  email: string;
  phone: string | null;
  locale: string;
  time_zone: string;
  preferences: ColumnType<Record<string, unknown>, string, string>;
  /** SPEC section 10 (migration 2026-11-30T02-00). */
  role: Generated<string>;
  password_hash: ColumnType<string | null, string | null | undefined, string | null>;
  version: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface SessionsTable {
  id: Generated<string>;
  token_hash: string;
  user_id: string;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export interface SetupTokensTable {
  token_hash: string;
  user_id: string;
  expires_at: Timestamp;
  created_at: Timestamp;
}

export interface SmsReplyCodesTable {
  user_id: string;
  incident_id: string;
  code: string;
  created_at: Timestamp;
}

export interface ContactMethodsTable {
  id: Generated<string>;
  user_id: string;
  position: number;
  type: string;
  address: string;
}

export interface EscalationPoliciesTable {
  id: Generated<string>;
  name: string;
  repeat: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface EscalationLevelsTable {
  policy_id: string;
  level: number;
  delay_seconds: number;
}

/** A schedule an escalation level pages through (migration 2026-11-29T21-00). */
export interface EscalationLevelSchedulesTable {
  policy_id: string;
  level: number;
  position: number;
  schedule_id: string;
}

export interface EscalationLevelUsersTable {
  policy_id: string;
  level: number;
  position: number;
  user_id: string;
}

export interface TeamsTable {
  id: Generated<string>;
  name: string;
  escalation_policy_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface TeamMembersTable {
  team_id: string;
  user_id: string;
  position: number;
}

export interface IncidentEscalationsTable {
  incident_id: string;
  run: number;
  repeat_round: number;
  level: number;
  policy_id: string;
  status: string;
  due_at: Timestamp;
  paged_at: NullableTimestamp;
  job_id: string | null;
  created_at: Timestamp;
}

/** What the sweep put back on the queue (SPEC section 4), by kind. */
export interface SweepRecoveriesTable {
  kind: string;
  total: Generated<string>;
  last_at: NullableTimestamp;
}

/** SPEC section 11 (migration 2026-11-29T20-00): layers are validated by src/domain/schedule.ts. */
export interface SchedulesTable {
  id: Generated<string>;
  name: string;
  time_zone: string;
  team_id: string | null;
  layers: ColumnType<unknown, string, string>;
  version: Generated<number>;
  created_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ScheduleOverridesTable {
  id: Generated<string>;
  schedule_id: string;
  user_id: string;
  start_at: Timestamp;
  end_at: Timestamp;
  created_by: string;
  created_at: Timestamp;
}

export interface ScheduleIcalFeedsTable {
  id: Generated<string>;
  schedule_id: string;
  user_id: string | null;
  token_hash: string;
  created_by: string;
  created_at: Timestamp;
}

export interface DB {
  schedules: SchedulesTable;
  schedule_overrides: ScheduleOverridesTable;
  schedule_ical_feeds: ScheduleIcalFeedsTable;
  templates: TemplatesTable;
  users: UsersTable;
  contact_methods: ContactMethodsTable;
  escalation_policies: EscalationPoliciesTable;
  escalation_levels: EscalationLevelsTable;
  escalation_level_users: EscalationLevelUsersTable;
  escalation_level_schedules: EscalationLevelSchedulesTable;
  teams: TeamsTable;
  team_members: TeamMembersTable;
  incident_escalations: IncidentEscalationsTable;
  integrations: IntegrationsTable;
  heartbeats: HeartbeatsTable;
  notifications: NotificationsTable;
  notification_attempts: NotificationAttemptsTable;
  channel_rate_windows: ChannelRateWindowsTable;
  settings: SettingsTable;
  sweep_recoveries: SweepRecoveriesTable;
  api_keys: ApiKeysTable;
  incidents: IncidentsTable;
  incident_events: IncidentEventsTable;
  idempotency_keys: IdempotencyKeysTable;
  rate_limit_hits: RateLimitHitsTable;
  sessions: SessionsTable;
  setup_tokens: SetupTokensTable;
  sms_reply_codes: SmsReplyCodesTable;
}

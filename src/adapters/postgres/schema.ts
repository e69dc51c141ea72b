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

export interface DB {
  notifications: NotificationsTable;
  notification_attempts: NotificationAttemptsTable;
  channel_rate_windows: ChannelRateWindowsTable;
  settings: SettingsTable;
  api_keys: ApiKeysTable;
  incidents: IncidentsTable;
  incident_events: IncidentEventsTable;
  idempotency_keys: IdempotencyKeysTable;
  rate_limit_hits: RateLimitHitsTable;
}

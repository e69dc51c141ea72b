// Frozen in time: this file never imports application code.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table notifications (
      id uuid primary key default gen_random_uuid(),
      channel text not null check (channel in ('email', 'sms', 'push', 'webhook', 'slack')),
      recipient text not null,
      user_id uuid,
      subject text,
      content text not null,
      priority text not null default 'normal' check (priority in ('high', 'normal', 'low')),
      status text not null check (status in ('scheduled', 'queued', 'sending', 'sent', 'failed', 'cancelled')),
      scheduled_at timestamptz(3),
      max_retries integer not null check (max_retries between 0 and 20),
      -- retry_count counts retries towards max_retries (a redrive starts it again); attempt_count
      -- numbers every attempt ever made.
      retry_count integer not null default 0,
      attempt_count integer not null default 0,
      batch_id uuid,
      incident_id uuid references incidents (id) on delete set null,
      metadata jsonb not null default '{}',
      -- The pg-boss job that currently carries this notification. A worker acts on a job only
      -- while it is still the current one, so a stale or cancelled job can never deliver.
      job_id uuid,
      last_error text,
      sent_at timestamptz(3),
      created_at timestamptz(3) not null default now(),
      updated_at timestamptz(3) not null default now()
    )`.execute(db);
  await sql`create index notifications_created_idx on notifications (created_at desc, id desc)`.execute(db);
  await sql`create index notifications_status_created_idx on notifications (status, created_at desc, id desc)`.execute(db);
  await sql`create index notifications_batch_idx on notifications (batch_id) where batch_id is not null`.execute(db);
  await sql`create index notifications_incident_idx on notifications (incident_id) where incident_id is not null`.execute(db);

  await sql`
    create table notification_attempts (
      notification_id uuid not null references notifications (id) on delete cascade,
      attempt integer not null,
      at timestamptz(3) not null,
      outcome text not null check (outcome in ('sent', 'retry', 'failed')),
      status_code integer,
      error text,
      duration_ms integer not null,
      primary key (notification_id, attempt)
    )`.execute(db);

  // Per-channel delivery budget shared by every worker process: one row per channel and second.
  await sql`
    create unlogged table channel_rate_windows (
      channel text not null,
      window_start timestamptz not null,
      used integer not null,
      primary key (channel, window_start)
    )`.execute(db);

  // Settings every process must agree on, such as the generated webhook signing secret.
  await sql`
    create table settings (
      name text primary key,
      value text not null,
      created_at timestamptz(3) not null default now()
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['settings', 'channel_rate_windows', 'notification_attempts', 'notifications']) {
    await sql`drop table if exists ${sql.table(table)}`.execute(db);
  }
}

// Frozen in time: this file never imports application code. SPEC section 6 (issue 5).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // An integration key is the Events v2 routing_key or the :key of the Alertmanager URL. Like API
  // keys, only a SHA-256 hash is stored (the key is random, so the hash is a fast unique lookup)
  // and the key is shown once. Deleting an integration revokes it, so its incidents keep a name.
  await sql`
    create table integrations (
      id uuid primary key default gen_random_uuid(),
      type text not null check (type in ('events_v2', 'alertmanager')),
      name text not null check (char_length(name) between 1 and 200),
      team_id uuid,
      key_hash text not null unique,
      key_prefix text not null,
      created_at timestamptz(3) not null default now(),
      revoked_at timestamptz(3)
    )`.execute(db);
  await sql`create index integrations_active_idx on integrations (created_at, id) where revoked_at is null`.execute(db);

  // The incident an integration opened, and what the monitoring tool said about it (PD payload,
  // Alertmanager labels and annotations): the latest event's details, the timeline has them all.
  await sql`
    alter table incidents
      add column integration_id uuid references integrations (id) on delete set null,
      add column details jsonb`.execute(db);
  // One unresolved incident per (integration, dedup_key): the dedup rule of SPEC section 6. Events
  // for one key are also serialised by an advisory lock; this index is the backstop.
  await sql`
    create unique index incidents_open_alert_idx on incidents (integration_id, dedup_key)
      where integration_id is not null and dedup_key is not null and status <> 'resolved'`.execute(db);

  // due_at is when the next ping must have arrived by (last ping, or creation, + interval). A
  // heartbeat is 'down' from the missed deadline until the next ping; incident_id is the incident
  // that the miss opened.
  await sql`
    create table heartbeats (
      id uuid primary key default gen_random_uuid(),
      name text not null check (char_length(name) between 1 and 200),
      interval_seconds integer not null check (interval_seconds between 1 and 2592000),
      team_id uuid,
      key_hash text not null unique,
      key_prefix text not null,
      status text not null default 'up' check (status in ('up', 'down')),
      last_ping_at timestamptz(3),
      due_at timestamptz(3) not null,
      incident_id uuid references incidents (id) on delete set null,
      created_at timestamptz(3) not null default now(),
      updated_at timestamptz(3) not null default now()
    )`.execute(db);
  await sql`create index heartbeats_created_idx on heartbeats (created_at, id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists heartbeats`.execute(db);
  await sql`drop index if exists incidents_open_alert_idx`.execute(db);
  await sql`alter table incidents drop column if exists details, drop column if exists integration_id`.execute(db);
  await sql`drop table if exists integrations`.execute(db);
}

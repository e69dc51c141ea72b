// Frozen in time: this file never imports application code. Later changes come as new files.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table api_keys (
      id uuid primary key default gen_random_uuid(),
      name text not null,
      scopes text[] not null,
      key_hash text not null unique,
      key_prefix text not null,
      created_at timestamptz(3) not null default now(),
      revoked_at timestamptz(3)
    )`.execute(db);

  await sql`
    create table incidents (
      id uuid primary key default gen_random_uuid(),
      title text not null check (char_length(title) between 1 and 200),
      description text,
      severity text not null check (severity in ('P1', 'P2', 'P3', 'P4')),
      status text not null default 'open' check (status in ('open', 'acknowledged', 'resolved')),
      team_id uuid,
      assignee_id uuid,
      source text not null default 'api',
      dedup_key text,
      created_by text not null,
      notification_status text not null default 'none'
        check (notification_status in ('none', 'pending', 'sent', 'partial', 'failed')),
      version integer not null default 1,
      created_at timestamptz(3) not null default now(),
      updated_at timestamptz(3) not null default now(),
      acknowledged_at timestamptz(3),
      resolved_at timestamptz(3),
      search tsvector generated always as (
        to_tsvector('simple', title || ' ' || coalesce(description, ''))
      ) stored
    )`.execute(db);
  // Keyset pagination walks (created_at, id) newest first; filters narrow that walk.
  await sql`create index incidents_created_idx on incidents (created_at desc, id desc)`.execute(db);
  await sql`create index incidents_status_created_idx on incidents (status, created_at desc, id desc)`.execute(db);
  await sql`create index incidents_team_created_idx on incidents (team_id, created_at desc, id desc) where team_id is not null`.execute(db);
  await sql`create index incidents_search_idx on incidents using gin (search)`.execute(db);
  await sql`create index incidents_open_dedup_idx on incidents (dedup_key) where dedup_key is not null and status <> 'resolved'`.execute(db);

  await sql`
    create table incident_events (
      id uuid primary key default gen_random_uuid(),
      incident_id uuid not null references incidents (id) on delete cascade,
      seq bigint generated always as identity,
      type text not null,
      actor text not null,
      data jsonb not null default '{}',
      created_at timestamptz(3) not null default clock_timestamp()
    )`.execute(db);
  await sql`create index incident_events_incident_idx on incident_events (incident_id, seq)`.execute(db);

  // Idempotency-Key records (SPEC section 2). The response is written in the same transaction as
  // the resource it describes, so a replay can never disagree with what was created.
  await sql`
    create table idempotency_keys (
      scope text not null,
      key text not null,
      request_hash text not null,
      response_status integer,
      response_body jsonb,
      response_headers jsonb,
      created_at timestamptz(3) not null default now(),
      expires_at timestamptz(3) not null,
      primary key (scope, key)
    )`.execute(db);
  await sql`create index idempotency_keys_expires_idx on idempotency_keys (expires_at)`.execute(db);

  // Fixed-window counters for write rate limits, shared by every API process. Unlogged: losing
  // the counters in a crash only forgives a window, and skipping the WAL keeps each hit cheap.
  await sql`
    create unlogged table rate_limit_hits (
      key text not null,
      window_start timestamptz not null,
      hits integer not null,
      primary key (key, window_start)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['rate_limit_hits', 'idempotency_keys', 'incident_events', 'incidents', 'api_keys']) {
    await sql`drop table if exists ${sql.table(table)}`.execute(db);
  }
}

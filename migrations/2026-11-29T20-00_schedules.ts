// Frozen in time: this file never imports application code. SPEC section 11 (issue 15): on-call
// schedules, their overrides, and the iCalendar feeds people subscribe to.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // A schedule's layers are one jsonb value on its row, not tables of their own: a schedule is
  // always read whole (every computation needs every layer) and written whole (PUT replaces the
  // layers), and no query looks inside a layer except for "which schedules name this user",
  // which the expression index below answers. The application validates the layers before it
  // writes them (src/domain/schedule.ts); tables of layers, their users and their restrictions
  // would cost three more inserts per PUT and a four-way join per read for nothing.
  await sql`
    create table schedules (
      id uuid primary key default gen_random_uuid(),
      name text not null,
      time_zone text not null,
      -- A schedule outlives its team (teams are not deleted through the API; an operator may).
      team_id uuid references teams (id) on delete set null,
      layers jsonb not null check (jsonb_typeof(layers) = 'array'),
      version integer not null default 1,
      created_by text not null,
      created_at timestamptz(3) not null default now(),
      updated_at timestamptz(3) not null default now()
    )`.execute(db);
  // GET /v1/schedules, newest first, optionally of one team.
  await sql`create index schedules_created_idx on schedules (created_at desc, id desc)`.execute(db);
  await sql`create index schedules_team_idx on schedules (team_id, created_at desc, id desc) where team_id is not null`.execute(db);
  // GET /v1/users/:id/shifts: the schedules whose layers name a user.
  await sql`create index schedules_layer_users_idx on schedules using gin (jsonb_path_query_array(layers, '$[*].user_ids[*]'))`.execute(db);

  // Overrides are instants. `created_at` orders them ("the override created last wins") and is
  // made strictly increasing per schedule by the store, under the schedule's row lock.
  await sql`
    create table schedule_overrides (
      id uuid primary key default gen_random_uuid(),
      schedule_id uuid not null references schedules (id) on delete cascade,
      user_id uuid not null references users (id),
      start_at timestamptz(3) not null,
      end_at timestamptz(3) not null,
      created_by text not null,
      created_at timestamptz(3) not null default now(),
      check (end_at > start_at)
    )`.execute(db);
  // The overrides overlapping a window (end after its start, start before its end): the ones
  // still to come are few, the past ones many, so the index leads with the end.
  await sql`create index schedule_overrides_end_idx on schedule_overrides (schedule_id, end_at)`.execute(db);
  // GET /v1/schedules/:id/overrides without a window, in start order.
  await sql`create index schedule_overrides_start_idx on schedule_overrides (schedule_id, start_at, id)`.execute(db);
  // A user's shifts include the schedules where only an override names them.
  await sql`create index schedule_overrides_user_idx on schedule_overrides (user_id, end_at)`.execute(db);

  // A feed is found by its token, which only the subscriber has: only its SHA-256 is stored.
  // Revoking a feed deletes its row, so its URL answers 404.
  await sql`
    create table schedule_ical_feeds (
      id uuid primary key default gen_random_uuid(),
      schedule_id uuid not null references schedules (id) on delete cascade,
      user_id uuid references users (id),
      token_hash text not null unique,
      created_by text not null,
      created_at timestamptz(3) not null default now()
    )`.execute(db);
  await sql`create index schedule_ical_feeds_schedule_idx on schedule_ical_feeds (schedule_id, created_at desc, id desc)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table schedule_ical_feeds`.execute(db);
  await sql`drop table schedule_overrides`.execute(db);
  await sql`drop table schedules`.execute(db);
}

// Frozen in time: this file never imports application code. SPEC section 10 (issue 13): people
// sign in (roles, passwords, sessions, one-time setup links) and act on a page from the page
// itself (SMS reply codes; action links need only a secret in `settings`, made on first use).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // The role grants scopes like an API key's: responder → read and write, admin → admin.
  // password_hash is "scrypt$N$r$p$salt$hash" (base64url), null until the user sets one.
  await sql`alter table users add column role text not null default 'responder' check (role in ('responder', 'admin'))`.execute(db);
  await sql`alter table users add column password_hash text`.execute(db);

  // Only the SHA-256 of a session token is kept: a copy of the table signs nobody in.
  await sql`
    create table sessions (
      id uuid primary key default gen_random_uuid(),
      token_hash text not null unique,
      user_id uuid not null references users (id) on delete cascade,
      created_at timestamptz(3) not null default now(),
      expires_at timestamptz(3) not null
    )`.execute(db);
  await sql`create index sessions_user_idx on sessions (user_id)`.execute(db);
  await sql`create index sessions_expires_idx on sessions (expires_at)`.execute(db);

  // Invitations and reset links (POST /v1/users/:id/invite): single use, hashed like sessions.
  await sql`
    create table setup_tokens (
      token_hash text primary key,
      user_id uuid not null references users (id) on delete cascade,
      expires_at timestamptz(3) not null,
      created_at timestamptz(3) not null default now()
    )`.execute(db);
  await sql`create index setup_tokens_user_idx on setup_tokens (user_id)`.execute(db);

  // The short code an SMS page ends with: one per person and incident, unique among that
  // person's open incidents (the application picks it under a per-person advisory lock).
  await sql`
    create table sms_reply_codes (
      user_id uuid not null references users (id) on delete cascade,
      incident_id uuid not null references incidents (id) on delete cascade,
      code text not null check (code ~ '^[A-Z0-9]{1,8}$'),
      created_at timestamptz(3) not null default now(),
      primary key (user_id, incident_id)
    )`.execute(db);
  await sql`create index sms_reply_codes_code_idx on sms_reply_codes (user_id, code)`.execute(db);
  await sql`create index sms_reply_codes_incident_idx on sms_reply_codes (incident_id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table sms_reply_codes`.execute(db);
  await sql`drop table setup_tokens`.execute(db);
  await sql`drop table sessions`.execute(db);
  await sql`alter table users drop column password_hash`.execute(db);
  await sql`alter table users drop column role`.execute(db);
}

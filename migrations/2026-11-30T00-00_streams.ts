// Frozen in time: this file never imports application code. SPEC section 7 (issue 12): what the
// real-time streams need besides the change feed itself.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // How far retention (EVENT_RETENTION_HOURS) has deleted: every change that is gone has an id at
  // most `pruned_through`. A stream asked to replay after an id below it may have lost events and
  // starts with `event: reset`. The oldest id still kept cannot tell this by itself: ids have gaps
  // (appends that rolled back), so "oldest kept > since + 1" is no proof that anything was deleted.
  await sql`
    create table change_retention (
      singleton boolean primary key default true check (singleton),
      pruned_through bigint not null default 0
    )`.execute(db);
  await sql`insert into change_retention default values`.execute(db);

  // Single-use stream tickets (POST /v1/stream-tickets), for browsers and tools that cannot set an
  // Authorization header. Only a hash is stored; the principal is the key that asked for it.
  await sql`
    create table stream_tickets (
      ticket_hash text primary key,
      principal jsonb not null,
      expires_at timestamptz not null,
      created_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index stream_tickets_expires_idx on stream_tickets (expires_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table stream_tickets`.execute(db);
  await sql`drop table change_retention`.execute(db);
}

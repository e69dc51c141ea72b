// Frozen in time: this file never imports application code. Issue 10 (SPEC section 2).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // A rate-limit window now starts at a key's first counted request and lasts the configured
  // length, instead of being aligned to the epoch: a client that starts near the end of an
  // aligned window no longer gets two budgets in a moment. One row per key; the table holds only
  // counters of the current windows, so it is simply made again.
  await sql`drop table if exists rate_limit_hits`.execute(db);
  await sql`
    create unlogged table rate_limit_hits (
      key text primary key,
      window_start timestamptz not null,
      window_ms integer not null,
      hits integer not null
    )`.execute(db);
  await sql`create index rate_limit_hits_window_idx on rate_limit_hits (window_start)`.execute(db);

  // Every documented list filter walks an index in the list's order (newest first), so a filter
  // on a large table reads a page, not the table (tests/list-indexes.test.ts checks the plans).
  await sql`create index notifications_channel_created_idx on notifications (channel, created_at desc, id desc)`.execute(db);
  await sql`create index notifications_priority_created_idx on notifications (priority, created_at desc, id desc)`.execute(db);
  await sql`create index incidents_severity_created_idx on incidents (severity, created_at desc, id desc)`.execute(db);
  // GET /v1/api-keys pages through the active keys, oldest first.
  await sql`create index api_keys_active_idx on api_keys (created_at, id) where revoked_at is null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const index of ['api_keys_active_idx', 'incidents_severity_created_idx', 'notifications_priority_created_idx', 'notifications_channel_created_idx']) {
    await sql`drop index if exists ${sql.ref(index)}`.execute(db);
  }
  await sql`drop table if exists rate_limit_hits`.execute(db);
  await sql`
    create unlogged table rate_limit_hits (
      key text not null,
      window_start timestamptz not null,
      hits integer not null,
      primary key (key, window_start)
    )`.execute(db);
}

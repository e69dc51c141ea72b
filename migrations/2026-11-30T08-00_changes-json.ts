// Frozen in time: this file never imports application code. SPEC section 7: the change feed keeps
// each change's payload as the JSON text it was written as (json), not as jsonb.
import { sql, type Kysely } from 'kysely';

// A type change resets a column's compression: both directions ask for lz4 again
// (2026-11-30T06-00_changes-lz4.ts: a server built without it keeps pglz).
const lz4 = sql`
  do $$
  begin
    alter table changes alter column data set compression lz4;
  exception when feature_not_supported or invalid_parameter_value then
    raise notice 'lz4 is not available on this server; the change feed keeps pglz';
  end $$`;

export async function up(db: Kysely<unknown>): Promise<void> {
  // Nothing queries inside a change's payload: readers hand it to clients whole. jsonb's binary
  // form serves indexes and operators the feed never uses, and costs a conversion on every append
  // and another on every read. A delivery batch's change (200 items) took PostgreSQL about 2.2 ms
  // to build and store as jsonb and 0.5 ms as json, and 0.15 ms against 0.06 ms to read back as
  // text (PostgreSQL 15, 300 rows each: bench/feed-payload-cost.sql). The table holds EVENT_RETENTION_HOURS of changes, so the
  // rewrite is short.
  await sql`alter table changes alter column data type json using data::json`.execute(db);
  await lz4.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table changes alter column data type jsonb using data::jsonb`.execute(db);
  await lz4.execute(db);
}

// Frozen in time: this file never imports application code. SPEC section 9 (scale, issue 17).
import { sql, type Kysely } from 'kysely';

// The tables that grow for years get time-ordered ids (UUIDv7, RFC 9562) by default, as the
// application's own ids are (src/app/ids.ts): an insert then goes to the right edge of the
// primary key, not to a random leaf of an index that no longer fits in memory. PostgreSQL 15 has
// no uuidv7() (18 has); this is the usual construction: a random UUID whose first 48 bits are
// replaced by the time in milliseconds, its version nibble set from 4 to 7.
const tables = ['incidents', 'incident_events', 'notifications'];

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create function tocsin_uuid_v7() returns uuid language sql volatile parallel safe as $$
      select encode(
        set_bit(set_bit(
          overlay(uuid_send(gen_random_uuid())
                  placing substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
                  from 1 for 6),
          52, 1), 53, 1),
        'hex')::uuid
    $$`.execute(db);
  for (const table of tables) await sql`alter table ${sql.table(table)} alter column id set default tocsin_uuid_v7()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of tables) await sql`alter table ${sql.table(table)} alter column id set default gen_random_uuid()`.execute(db);
  await sql`drop function if exists tocsin_uuid_v7()`.execute(db);
}

// Frozen in time: this file never imports application code. SPEC section 7: the change feed's
// payloads are compressed with lz4 rather than pglz.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // A delivery batch's change carries its 200 items (about 34 kB of JSON), so each one is
  // compressed and moved out of line. pglz took about 260 us per such row and lz4 about 100 us,
  // for a slightly smaller result (measured on PostgreSQL 15 with 2,000 rows); a worker writes two
  // per batch, and every API process reads them back. A server built without lz4 keeps pglz.
  await sql`
    do $$
    begin
      alter table changes alter column data set compression lz4;
    exception when feature_not_supported or invalid_parameter_value then
      raise notice 'lz4 is not available on this server; the change feed keeps pglz';
    end $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table changes alter column data set compression default`.execute(db);
}

import { sql } from 'kysely';
import type { Executor } from './database.ts';

/**
 * One round trip per write request: bump the counter of the current fixed window and read back
 * the count and the milliseconds left in the window. Every API process shares the table, so the
 * limit holds across processes (SPEC section 2).
 */
export async function hitRateLimit(db: Executor, key: string, windowMs: number): Promise<{ current: number; ttl: number }> {
  const { rows } = await sql<{ hits: number; ttl: number }>`
    with w as (
      select to_timestamp(floor(extract(epoch from now()) * 1000 / ${windowMs}) * ${windowMs} / 1000.0) as start
    )
    insert into rate_limit_hits (key, window_start, hits)
    select ${key}, w.start, 1 from w
    on conflict (key, window_start) do update set hits = rate_limit_hits.hits + 1
    returning hits, ceil(extract(epoch from (window_start + make_interval(secs => ${windowMs} / 1000.0) - now())) * 1000)::int as ttl
  `.execute(db);
  const row = rows[0]!;
  return { current: row.hits, ttl: Math.max(0, row.ttl) };
}

export async function deleteOldRateLimitWindows(db: Executor): Promise<number> {
  const result = await db
    .deleteFrom('rate_limit_hits')
    .where('window_start', '<', sql<Date>`now() - interval '1 day'`)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

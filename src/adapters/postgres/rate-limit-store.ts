import { sql } from 'kysely';
import type { Executor } from './database.ts';

const windowStartOf = (at: number, windowMs: number) => Math.floor(at / windowMs) * windowMs;

/**
 * Adds `hits` to keys' counters of their fixed windows in one statement and reads back the
 * totals. Every API process shares the table, so the limit holds across processes (SPEC
 * section 2). Window starts are computed by the caller, so all processes agree on them.
 */
export async function addRateLimitHits(
  db: Executor,
  entries: { key: string; window_start: number; hits: number }[],
): Promise<Map<string, number>> {
  const { rows } = await sql<{ key: string; hits: number }>`
    insert into rate_limit_hits (key, window_start, hits)
    select key, to_timestamp(start / 1000.0), hits
    from unnest(${entries.map((e) => e.key)}::text[], ${entries.map((e) => e.window_start)}::float8[], ${entries.map((e) => e.hits)}::int[]) as v(key, start, hits)
    on conflict (key, window_start) do update set hits = rate_limit_hits.hits + excluded.hits
    returning key, hits`.execute(db);
  return new Map(rows.map((r) => [r.key, r.hits]));
}

/**
 * A rate limit that never lets more than `max` requests through per window across all processes,
 * without a database round trip per request. A process reserves a block of the window's budget
 * (a twentieth of it, at least 1) in one statement and spends it in memory; when the block runs
 * out it reserves another, and the table's counter grants only what is left. So the limit holds
 * exactly; a busy process costs one query per block; and the only error is on the safe side: up
 * to one unspent block per process may go unused at the end of a window. With small limits the
 * block is 1 and every request is counted in PostgreSQL.
 */
export function makeRateLimitCounter(db: Executor) {
  const state = new Map<string, { window_start: number; tokens: number; reserved: number }>();
  const inflight = new Map<string, Promise<unknown>>();

  async function reserve(key: string, windowStart: number, max: number) {
    const block = Math.max(1, Math.floor(max / 20));
    const totals = await addRateLimitHits(db, [{ key, window_start: windowStart, hits: block }]);
    const total = totals.get(key) ?? block;
    // The row lock serialises reservations, so `total - block` is exactly what was reserved before.
    const granted = Math.max(0, Math.min(block, max - (total - block)));
    return { granted, total };
  }

  return {
    async hit(key: string, windowMs: number, max: number): Promise<{ current: number; ttl: number }> {
      const now = Date.now();
      const windowStart = windowStartOf(now, windowMs);
      const ttl = windowStart + windowMs - now;
      // One reservation per key at a time in this process: concurrent requests wait for it.
      while (inflight.has(key)) await inflight.get(key);
      let s = state.get(key);
      if (!s || s.window_start !== windowStart) {
        s = { window_start: windowStart, tokens: 0, reserved: 0 };
        state.set(key, s);
        if (state.size > 50_000) for (const [k, v] of state) if (v.window_start !== windowStart) state.delete(k);
      }
      if (s.tokens === 0) {
        const pending = reserve(key, windowStart, max);
        inflight.set(key, pending);
        try {
          const { granted, total } = await pending;
          s.tokens = granted;
          s.reserved = total;
        } finally {
          inflight.delete(key);
        }
        if (s.tokens === 0) return { current: max + 1, ttl };
      }
      s.tokens -= 1;
      return { current: Math.min(max, s.reserved - s.tokens), ttl };
    },
  };
}

export async function deleteOldRateLimitWindows(db: Executor): Promise<number> {
  const result = await db
    .deleteFrom('rate_limit_hits')
    .where('window_start', '<', sql<Date>`now() - interval '1 day'`)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

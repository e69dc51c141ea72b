import { sql } from 'kysely';
import type { Executor } from './database.ts';

/**
 * Adds `hits` to a key's counter and reads back the total of its current window. A window starts
 * at the key's first counted request and lasts `windowMs`; a request after it ends starts the
 * next one. Every API process shares the table, so a limit holds across processes (SPEC section
 * 2), and PostgreSQL's clock decides when windows start and end, so processes agree on them.
 */
export async function addRateLimitHits(db: Executor, entry: { key: string; window_ms: number; hits: number }) {
  const { rows } = await sql<{ hits: number; ends_in_ms: number }>`
    insert into rate_limit_hits as r (key, window_start, window_ms, hits)
    values (${entry.key}, clock_timestamp(), ${entry.window_ms}, ${entry.hits})
    on conflict (key) do update set
      window_start = case when r.window_start + r.window_ms * interval '1 millisecond' <= excluded.window_start
                          then excluded.window_start else r.window_start end,
      window_ms = case when r.window_start + r.window_ms * interval '1 millisecond' <= excluded.window_start
                       then excluded.window_ms else r.window_ms end,
      hits = case when r.window_start + r.window_ms * interval '1 millisecond' <= excluded.window_start
                  then excluded.hits else r.hits + excluded.hits end
    returning hits,
      greatest(1, ceil(extract(epoch from (window_start + window_ms * interval '1 millisecond' - clock_timestamp())) * 1000))::int as ends_in_ms`.execute(db);
  return rows[0]!;
}

interface Window {
  ends_at: number;
  /** Requests this process may still admit without asking PostgreSQL. */
  tokens: number;
  /** The window's total in PostgreSQL when this process last reserved (what every process reserved). */
  reserved: number;
  /** PostgreSQL granted nothing: the budget is spent until the window ends. */
  exhausted: boolean;
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
  const state = new Map<string, Window>();
  const inflight = new Map<string, Promise<unknown>>();

  async function reserve(key: string, windowMs: number, max: number): Promise<Window> {
    const block = Math.max(1, Math.floor(max / 20));
    const { hits, ends_in_ms } = await addRateLimitHits(db, { key, window_ms: windowMs, hits: block });
    // The row lock serialises reservations, so `hits - block` is exactly what was reserved before.
    const granted = Math.max(0, Math.min(block, max - (hits - block)));
    const window = { ends_at: Date.now() + ends_in_ms, tokens: granted, reserved: Math.min(hits, max), exhausted: granted === 0 };
    state.set(key, window);
    if (state.size > 50_000) for (const [k, v] of state) if (v.ends_at <= Date.now()) state.delete(k);
    return window;
  }

  /** The key's window with a token left to spend, reserving a block when this process has none. */
  async function current(key: string, windowMs: number, max: number): Promise<Window> {
    // One reservation per key at a time in this process: concurrent requests wait for it.
    while (inflight.has(key)) await inflight.get(key);
    const known = state.get(key);
    if (known && known.ends_at > Date.now() && (known.tokens > 0 || known.exhausted)) return known;
    const pending = reserve(key, windowMs, max);
    inflight.set(key, pending);
    try {
      return await pending;
    } finally {
      inflight.delete(key);
    }
  }

  const answer = (window: Window, max: number) => ({
    current: window.tokens === 0 ? max + 1 : Math.min(max, window.reserved - window.tokens),
    ttl: Math.max(1, window.ends_at - Date.now()),
  });

  return {
    /** Counts one request; `current > max` means it is over the limit. */
    async hit(key: string, windowMs: number, max: number): Promise<{ current: number; ttl: number }> {
      for (;;) {
        const window = await current(key, windowMs, max);
        // Requests that waited for the same reservation may have spent it meanwhile: reserve again.
        if (window.tokens === 0 && !window.exhausted) continue;
        if (window.tokens === 0) return answer(window, max);
        window.tokens -= 1;
        return { current: Math.min(max, window.reserved - window.tokens), ttl: Math.max(1, window.ends_at - Date.now()) };
      }
    },
    /** Whether a request would be admitted, without counting it (`current > max`: it would not). */
    async read(key: string, windowMs: number, max: number): Promise<{ current: number; ttl: number }> {
      return answer(await current(key, windowMs, max), max);
    },
  };
}

export async function deleteOldRateLimitWindows(db: Executor): Promise<number> {
  const result = await db
    .deleteFrom('rate_limit_hits')
    .where('window_start', '<', sql<Date>`now() - interval '1 minute'`)
    .where(sql<boolean>`window_start + window_ms * interval '1 millisecond' < now()`)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export type RateLimitCounter = ReturnType<typeof makeRateLimitCounter>;

/**
 * SPEC section 10: counters of failures (sign-in attempts), in the same table as the rate limits,
 * so they hold across API processes. A failure is counted only when it happens; a key is blocked
 * while its current window holds `max` failures.
 */
export function makeFailureCounter(db: Executor) {
  return {
    /** How long until every key over its limit is free again, in ms; 0 when none is. */
    async blockedForMs(limits: { key: string; max: number }[]): Promise<number> {
      const { rows } = await sql<{ key: string; hits: number; ends_in_ms: number }>`
        select key, hits,
          ceil(extract(epoch from (window_start + window_ms * interval '1 millisecond' - clock_timestamp())) * 1000)::int as ends_in_ms
        from rate_limit_hits
        where key = any(${limits.map((l) => l.key)}::text[])
          and window_start + window_ms * interval '1 millisecond' > clock_timestamp()`.execute(db);
      let wait = 0;
      for (const row of rows) {
        const limit = limits.find((l) => l.key === row.key)!;
        if (row.hits >= limit.max) wait = Math.max(wait, row.ends_in_ms);
      }
      return wait;
    },
    async fail(keys: string[], windowMs: number): Promise<void> {
      for (const key of keys) await addRateLimitHits(db, { key, window_ms: windowMs, hits: 1 });
    },
  };
}

export type FailureCounter = ReturnType<typeof makeFailureCounter>;

import { sql } from 'kysely';
import type { Channel } from '../../domain/notification.ts';
import type { ChannelRateLimiter } from '../../ports/provider.ts';
import type { Executor } from './database.ts';

/**
 * CHANNEL_RATE_LIMIT_PER_SECOND across every worker process (SPEC section 4): one counter row per
 * channel and second. A worker asks for a whole batch at once; the row lock serialises workers,
 * so `used - wanted` is exactly what was used before this request and the grant is exact. What
 * is not granted waits for the next second.
 */
export function makeChannelRateLimiter(db: Executor, perSecond: number): ChannelRateLimiter {
  const grant = (wanted: number, { used, ms_left }: CountedWindow) => {
    const before = used - wanted;
    const granted = Math.max(0, Math.min(wanted, perSecond - before));
    return { granted, retry_in_ms: Math.max(ms_left, 1) };
  };
  return {
    async acquire(channel: Channel, wanted: number) {
      const { rows } = await sql<CountedWindow>`
        insert into channel_rate_windows (channel, window_start, used)
        values (${channel}, date_trunc('second', clock_timestamp()), ${wanted})
        on conflict (channel, window_start) do update set used = channel_rate_windows.used + excluded.used
        returning ${windowColumns}`.execute(db);
      return grant(wanted, rows[0]!);
    },
    granted: grant,
  };
}

/** The window's total after counting (`used`) and the milliseconds left in it. */
export interface CountedWindow {
  used: number;
  ms_left: number;
}

const windowColumns = sql`used, ceil(1000 - extract(milliseconds from clock_timestamp()) % 1000)::int as ms_left`;

/**
 * The same count as `acquire`, as a CTE named `rate_window` for another statement: counts the
 * rows of the CTE `counted` (nothing when it has none) in the channel's current window and yields
 * the window's `used` and `ms_left`. The delivery claim counts what it claims this way, so a batch
 * asks for its budget in the claim's round trip (see claimForSending).
 */
export function countInWindowCte(channel: Channel, counted: string) {
  return sql`
    rate_window as (
      insert into channel_rate_windows as w (channel, window_start, used)
      select ${channel}, date_trunc('second', clock_timestamp()), count(*) from ${sql.table(counted)} having count(*) > 0
      on conflict (channel, window_start) do update set used = w.used + excluded.used
      returning ${windowColumns}
    )`;
}

export async function deleteOldChannelWindows(db: Executor): Promise<number> {
  const result = await db.deleteFrom('channel_rate_windows').where('window_start', '<', sql<Date>`now() - interval '1 minute'`).executeTakeFirst();
  return Number(result.numDeletedRows);
}

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
  return {
    async acquire(channel: Channel, wanted: number) {
      const { rows } = await sql<{ used: number; ms_left: number }>`
        insert into channel_rate_windows (channel, window_start, used)
        values (${channel}, date_trunc('second', clock_timestamp()), ${wanted})
        on conflict (channel, window_start) do update set used = channel_rate_windows.used + excluded.used
        returning used, ceil(1000 - extract(milliseconds from clock_timestamp()) % 1000)::int as ms_left`.execute(db);
      const { used, ms_left } = rows[0]!;
      const before = used - wanted;
      const granted = Math.max(0, Math.min(wanted, perSecond - before));
      return { granted, retry_in_ms: Math.max(ms_left, 1) };
    },
  };
}

export async function deleteOldChannelWindows(db: Executor): Promise<number> {
  const result = await db.deleteFrom('channel_rate_windows').where('window_start', '<', sql<Date>`now() - interval '1 minute'`).executeTakeFirst();
  return Number(result.numDeletedRows);
}

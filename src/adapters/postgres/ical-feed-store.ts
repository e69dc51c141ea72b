import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Tx } from '../../ports/transact.ts';
import { decodeCursor, page } from './cursor.ts';
import { executor } from './transact.ts';

// SPEC section 11: the iCalendar feeds of a schedule. A calendar application fetches a feed
// without a key, so the feed's URL holds a long random token; only its SHA-256 is stored (the
// token is high-entropy, so a slow hash buys nothing), and revoking deletes the row.

export interface IcalFeed {
  id: string;
  schedule_id: string;
  /** The feed shows this user's shifts only; null: the whole final schedule. */
  user_id: string | null;
  created_by: string;
  created_at: Date;
}

const columns = ['id', 'schedule_id', 'user_id', 'created_by', 'created_at'] as const;

const hashFeedToken = (token: string): string => createHash('sha256').update(token).digest('hex');

/** Stores a feed under the hash of its token (the caller makes the token and shows it once). */
export async function insertIcalFeed(tx: Tx, row: { schedule_id: string; user_id: string | null; token: string; created_by: string }): Promise<IcalFeed> {
  const { token, ...rest } = row;
  return executor(tx).insertInto('schedule_ical_feeds').values({ ...rest, token_hash: hashFeedToken(token) }).returning(columns).executeTakeFirstOrThrow();
}

export async function deleteIcalFeed(tx: Tx, scheduleId: string, feedId: string): Promise<IcalFeed | undefined> {
  return executor(tx)
    .deleteFrom('schedule_ical_feeds')
    .where('schedule_id', '=', scheduleId)
    .where('id', '=', feedId)
    .returning(columns)
    .executeTakeFirst();
}

/** A schedule's feeds, newest first (without their tokens, which are not stored). */
export async function listIcalFeeds(tx: Tx, scheduleId: string, filter: { limit: number; cursor?: string | undefined }) {
  let query = executor(tx).selectFrom('schedule_ical_feeds').select(columns).where('schedule_id', '=', scheduleId);
  if (filter.cursor) {
    const after = decodeCursor(filter.cursor);
    query = query.where(sql<boolean>`(created_at, id) < (${after.created_at}, ${after.id}::uuid)`);
  }
  const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit + 1).execute();
  return page(rows, filter.limit);
}

/** The feed a token opens; undefined when no feed has this token (never made, or revoked). */
export async function findIcalFeedByToken(tx: Tx, token: string): Promise<IcalFeed | undefined> {
  return executor(tx).selectFrom('schedule_ical_feeds').select(columns).where('token_hash', '=', hashFeedToken(token)).executeTakeFirst();
}

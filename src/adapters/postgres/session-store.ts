import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Role } from '../../domain/user.ts';
import type { Tx } from '../../ports/transact.ts';
import { executor } from './transact.ts';

// SPEC section 10: sessions and one-time setup links. Only the SHA-256 of a token is stored (a
// token is 32 random bytes, so no slow hash is needed): a copy of these tables signs nobody in.

const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url');
const newToken = () => randomBytes(32).toString('base64url');

export interface SessionUser {
  session_id: string;
  user_id: string;
  name: string;
  role: Role;
  expires_at: Date;
}

export async function createSession(tx: Tx, userId: string, ttlHours: number): Promise<{ token: string; expires_at: Date }> {
  const token = newToken();
  const row = await executor(tx)
    .insertInto('sessions')
    .values({ token_hash: hashToken(token), user_id: userId, expires_at: sql<Date>`now() + make_interval(secs => ${ttlHours * 3600})` })
    .returning('expires_at')
    .executeTakeFirstOrThrow();
  return { token, expires_at: row.expires_at };
}

/**
 * The live session of a token, with its user, sliding its expiry to SESSION_TTL_HOURS from now.
 * One statement. The row is written only when the expiry would move by more than a minute (or
 * half the TTL, for short ones), so a busy console does not cost a write per request.
 */
export async function touchSession(tx: Tx, token: string, ttlHours: number): Promise<SessionUser | undefined> {
  const ttl = sql`make_interval(secs => ${ttlHours * 3600})`;
  const slack = sql`make_interval(secs => ${Math.min(60, (ttlHours * 3600) / 2)})`;
  const { rows } = await sql<SessionUser>`
    with s as (
      select id, user_id, expires_at from sessions where token_hash = ${hashToken(token)} and expires_at > now()
    ), touched as (
      update sessions set expires_at = now() + ${ttl}
      from s where sessions.id = s.id and s.expires_at < now() + ${ttl} - ${slack}
      returning sessions.id, sessions.expires_at
    )
    select s.id as session_id, s.user_id, u.name, u.role, coalesce(t.expires_at, s.expires_at) as expires_at
    from s join users u on u.id = s.user_id left join touched t on t.id = s.id`.execute(executor(tx));
  return rows[0];
}

export async function deleteSession(tx: Tx, token: string): Promise<void> {
  await executor(tx).deleteFrom('sessions').where('token_hash', '=', hashToken(token)).execute();
}

/** Ends every session of a user (a password was set). */
export async function deleteUserSessions(tx: Tx, userId: string): Promise<number> {
  const result = await executor(tx).deleteFrom('sessions').where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Ends every session of a user but this one (the person changed their password in it). */
export async function deleteOtherSessions(tx: Tx, userId: string, keepToken: string): Promise<number> {
  const result = await executor(tx).deleteFrom('sessions').where('user_id', '=', userId).where('token_hash', '<>', hashToken(keepToken)).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Housekeeping: sessions and setup links that expired. */
export async function deleteExpiredSessions(tx: Tx): Promise<number> {
  const sessions = await executor(tx).deleteFrom('sessions').where('expires_at', '<', sql<Date>`now()`).executeTakeFirst();
  const links = await executor(tx).deleteFrom('setup_tokens').where('expires_at', '<', sql<Date>`now()`).executeTakeFirst();
  return Number(sessions.numDeletedRows) + Number(links.numDeletedRows);
}

export async function createSetupToken(tx: Tx, userId: string, ttlHours: number): Promise<{ token: string; expires_at: Date }> {
  const token = newToken();
  const row = await executor(tx)
    .insertInto('setup_tokens')
    .values({ token_hash: hashToken(token), user_id: userId, expires_at: sql<Date>`now() + make_interval(secs => ${ttlHours * 3600})` })
    .returning('expires_at')
    .executeTakeFirstOrThrow();
  return { token, expires_at: row.expires_at };
}

/**
 * Uses a setup link up: its user, or undefined when it is unknown, used or expired. Every other
 * link of that user goes too, so an older invitation cannot set the password again. One DELETE
 * per call, so two requests with the same link cannot both succeed.
 */
export async function consumeSetupToken(tx: Tx, token: string): Promise<string | undefined> {
  const row = await executor(tx)
    .deleteFrom('setup_tokens')
    .where('token_hash', '=', hashToken(token))
    .where('expires_at', '>', sql<Date>`now()`)
    .returning('user_id')
    .executeTakeFirst();
  if (!row) return undefined;
  await executor(tx).deleteFrom('setup_tokens').where('user_id', '=', row.user_id).execute();
  return row.user_id;
}

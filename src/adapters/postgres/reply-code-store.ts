import { randomInt } from 'node:crypto';
import { sql } from 'kysely';
import type { Tx } from '../../ports/transact.ts';
import { executor } from './transact.ts';

// SPEC section 10: the short code an SMS page ends with, so the person can reply "<code> A".

/** Letters and digits that cannot be mistaken for each other on a phone screen (no 0/O, 1/I/L). */
const ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';

/**
 * The person's code for this incident: the one they were given before, else a new one unique
 * among the codes of their incidents that are not resolved. A per-person advisory lock (held to
 * the end of the transaction) keeps two pages to the same person from picking the same code.
 */
export async function replyCodeFor(tx: Tx, userId: string, incidentId: string): Promise<string> {
  const db = executor(tx);
  await sql`select pg_advisory_xact_lock(hashtext('tocsin-sms-code'), hashtext(${userId}))`.execute(db);
  const given = await db.selectFrom('sms_reply_codes').select('code').where('user_id', '=', userId).where('incident_id', '=', incidentId).executeTakeFirst();
  if (given) return given.code;
  const { rows } = await sql<{ code: string }>`
    select c.code from sms_reply_codes c join incidents i on i.id = c.incident_id
    where c.user_id = ${userId} and i.status <> 'resolved'`.execute(db);
  const taken = new Set(rows.map((r) => r.code));
  let code = '';
  for (let attempt = 0; code === '' || taken.has(code); attempt++) {
    const length = 3 + Math.floor(attempt / 20); // 29,791 codes of 3; longer only if those run out
    code = Array.from({ length: Math.min(length, 8) }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
  }
  await db.insertInto('sms_reply_codes').values({ user_id: userId, incident_id: incidentId, code }).execute();
  return code;
}

/** The incident (not resolved) that one of these people was given this code for, if exactly one. */
export async function incidentOfReplyCode(tx: Tx, userIds: string[], code: string): Promise<{ user_id: string; incident_id: string }[]> {
  if (userIds.length === 0) return [];
  const { rows } = await sql<{ user_id: string; incident_id: string }>`
    select c.user_id, c.incident_id from sms_reply_codes c join incidents i on i.id = c.incident_id
    where c.user_id = any(${userIds}::uuid[]) and c.code = ${code} and i.status <> 'resolved'`.execute(executor(tx));
  return rows;
}

/** Housekeeping: the codes of resolved incidents match nothing any more. */
export async function deleteStaleReplyCodes(tx: Tx): Promise<number> {
  const { numAffectedRows } = await sql`
    delete from sms_reply_codes c using incidents i where i.id = c.incident_id and i.status = 'resolved'`.execute(executor(tx));
  return Number(numAffectedRows ?? 0);
}

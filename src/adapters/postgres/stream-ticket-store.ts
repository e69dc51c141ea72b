import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Principal } from '../../domain/api-key.ts';
import type { Tx } from '../../ports/transact.ts';
import { executor } from './transact.ts';

// SPEC section 7: `?ticket=` for browsers and tools that cannot send an Authorization header.
// A ticket is 32 random bytes; only its SHA-256 is stored (as for API keys, a high-entropy secret
// needs no slow hash). It carries the principal that asked for it, is good once, for 60 s, on any
// API process (the row is in PostgreSQL, and consuming it is one DELETE).

export const STREAM_TICKET_TTL_SECONDS = 60;

const hashTicket = (ticket: string): string => createHash('sha256').update(ticket).digest('hex');

export async function createStreamTicket(tx: Tx, principal: Principal, ttlSeconds = STREAM_TICKET_TTL_SECONDS) {
  const ticket = `tst_${randomBytes(32).toString('base64url')}`;
  const { rows } = await sql<{ expires_at: Date }>`
    insert into stream_tickets (ticket_hash, principal, expires_at)
    values (${hashTicket(ticket)}, ${JSON.stringify(principal)}::jsonb, now() + make_interval(secs => ${ttlSeconds}))
    returning expires_at`.execute(executor(tx));
  return { ticket, expires_at: rows[0]!.expires_at };
}

/**
 * Uses a ticket up: the principal it carries, or undefined when it is unknown, used, expired, or
 * its key was revoked meanwhile. One DELETE, so two processes offered the same ticket at once
 * cannot both accept it.
 */
export async function consumeStreamTicket(tx: Tx, ticket: string): Promise<Principal | undefined> {
  const { rows } = await sql<{ principal: Principal; active: boolean }>`
    with used as (
      delete from stream_tickets where ticket_hash = ${hashTicket(ticket)} and expires_at > now()
      returning principal
    )
    select principal, (
      principal->>'key_id' = 'bootstrap'
      or exists (select 1 from api_keys k where k.id::text = principal->>'key_id' and k.revoked_at is null)
      or exists (select 1 from users u where u.id::text = principal->>'user_id')
    ) as active
    from used`.execute(executor(tx));
  return rows[0]?.active ? rows[0].principal : undefined;
}

/** Housekeeping (the maintenance job): tickets nobody used. */
export async function deleteExpiredStreamTickets(tx: Tx): Promise<number> {
  const result = await sql`delete from stream_tickets where expires_at <= now()`.execute(executor(tx));
  return Number(result.numAffectedRows ?? 0n);
}

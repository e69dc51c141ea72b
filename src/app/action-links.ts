import { createHmac, timingSafeEqual } from 'node:crypto';

// SPEC section 10: the link every escalation page carries, PUBLIC_URL/a/<token>. The token is the
// incident's id, the paged person's id and an expiry (7 days), signed with HMAC-SHA256 under a
// secret kept in PostgreSQL (settings), so any API process can check it and nothing is stored
// per link. "Expires when the incident is resolved" is checked against the incident when used.

export const ACTION_LINK_DAYS = 7;
const MAC_BYTES = 16;
const BODY_BYTES = 16 + 16 + 4;

const uuidBytes = (id: string) => Buffer.from(id.replaceAll('-', ''), 'hex');
const uuidOf = (bytes: Buffer) => {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

export type LinkCheck = { ok: true; incident_id: string; user_id: string } | { ok: false; problem: 'invalid' | 'expired' };

/**
 * `secret` is read when first needed and kept; a failed read is tried again at the next use (a
 * process starts, and keeps working, while the settings table cannot be read for a moment).
 */
export function makeActionLinks(deps: { secret: () => Promise<string>; publicUrl: string }) {
  let secret: Promise<string> | undefined;
  const key = () => (secret ??= deps.secret().catch((error: unknown) => {
    secret = undefined;
    throw error;
  }));
  const macWith = (key: string, body: Buffer) => createHmac('sha256', key).update('tocsin-action-link\0').update(body).digest().subarray(0, MAC_BYTES);
  return {
    async url(userId: string, incidentId: string, at: Date): Promise<string> {
      const k = await key();
      const body = Buffer.alloc(BODY_BYTES);
      uuidBytes(incidentId).copy(body, 0);
      uuidBytes(userId).copy(body, 16);
      body.writeUInt32BE(Math.floor(at.getTime() / 1000) + ACTION_LINK_DAYS * 86_400, 32);
      return `${deps.publicUrl}/a/${Buffer.concat([body, macWith(k, body)]).toString('base64url')}`;
    },
    async check(token: string, now: Date): Promise<LinkCheck> {
      if (!/^[A-Za-z0-9_-]{1,200}$/.test(token)) return { ok: false, problem: 'invalid' };
      const k = await key();
      const bytes = Buffer.from(token, 'base64url');
      if (bytes.length !== BODY_BYTES + MAC_BYTES) return { ok: false, problem: 'invalid' };
      const body = bytes.subarray(0, BODY_BYTES);
      if (!timingSafeEqual(macWith(k, body), bytes.subarray(BODY_BYTES))) return { ok: false, problem: 'invalid' };
      if (body.readUInt32BE(32) * 1000 <= now.getTime()) return { ok: false, problem: 'expired' };
      return { ok: true, incident_id: uuidOf(body.subarray(0, 16)), user_id: uuidOf(body.subarray(16, 32)) };
    },
  };
}

export type ActionLinks = ReturnType<typeof makeActionLinks>;

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../../domain/api-key.ts';
import { scopesOfRole } from '../../domain/user.ts';
import type { Tx } from '../../ports/transact.ts';
import { touchSession } from '../postgres/session-store.ts';

// SPEC section 10: the session cookie of a person signed in, as a Principal like an API key's.

export const SESSION_COOKIE = 'tocsin_session';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when the request was authenticated by the session cookie. */
    session?: { token: string; expires_at: Date };
  }
}

export function makeSessionAuth(deps: { reader: Tx; ttlHours: number; publicUrl: string }) {
  const secure = deps.publicUrl.startsWith('https:');
  return {
    /** The principal of the request's session cookie (sliding its expiry), or null. */
    async principal(request: FastifyRequest): Promise<Principal | null> {
      const token = request.cookies?.[SESSION_COOKIE];
      if (!token) return null;
      const session = await touchSession(deps.reader, token, deps.ttlHours);
      if (!session) return null;
      request.session = { token, expires_at: session.expires_at };
      return { key_id: `user:${session.user_id}`, name: session.name, scopes: scopesOfRole(session.role), user_id: session.user_id };
    },
    /** HttpOnly (no script reads it), SameSite=Lax, Secure when PUBLIC_URL is https. */
    setCookie(reply: FastifyReply, token: string, expires: Date): void {
      reply.setCookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'lax', secure, path: '/', expires });
    },
    clearCookie(reply: FastifyReply): void {
      reply.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'lax', secure, path: '/' });
    },
  };
}

export type SessionAuth = ReturnType<typeof makeSessionAuth>;

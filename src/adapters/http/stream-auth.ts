import type { FastifyRequest } from 'fastify';
import { allows, type Principal } from '../../domain/api-key.ts';
import { DomainError } from '../../domain/errors.ts';
import type { Tx } from '../../ports/transact.ts';
import { consumeStreamTicket } from '../postgres/stream-ticket-store.ts';
import type { Authenticator } from './auth.ts';
import type { StreamAuth } from './stream-hub.ts';

export interface StreamAuthDeps {
  /** Reads outside any transaction (consuming a ticket is one statement). */
  reader: Tx;
  auth: Authenticator;
  /** PUBLIC_URL: a WebSocket authenticated by a cookie must come from a page of this origin. */
  publicUrl: string;
  /**
   * SPEC section 10 (issue 13): the principal of a request's session cookie, or null. Absent until
   * sessions exist; the rest of the stream auth (the Origin check included) is ready for it.
   */
  sessionPrincipal?: (request: FastifyRequest) => Promise<Principal | null>;
}

/** Whether an Origin header names the same origin (scheme, host, port) as PUBLIC_URL. */
export function sameOrigin(origin: string | undefined, publicUrl: string): boolean {
  if (!origin || origin === 'null') return false;
  try {
    return new URL(origin).origin === new URL(publicUrl).origin;
  } catch {
    return false;
  }
}

const unauthorized = () =>
  new DomainError('UNAUTHORIZED', 'send an API key as "Authorization: Bearer <key>", a session cookie, or ?ticket= from POST /v1/stream-tickets');

/**
 * SPEC section 7: who may open a stream. A bearer key with `read`; else a single-use ticket (any
 * API process, consumed atomically); else a session cookie. An intake key (integration, heartbeat)
 * is not an API key and gets 401 like any unknown key. A WebSocket upgrade authenticated by a
 * cookie must carry an Origin equal to PUBLIC_URL's, else 403: a browser sends cookies with a
 * cross-site WebSocket handshake, and nothing else (no CORS) would stop another site's page from
 * reading the stream (cross-site WebSocket hijacking). Bearer keys and tickets are not sent by a
 * browser on its own, so they need no such check.
 */
export function makeStreamAuthenticator(deps: StreamAuthDeps) {
  const bearer = deps.auth.require('read');
  return async function authenticate(request: FastifyRequest, ticket: string | undefined, upgrade: boolean): Promise<StreamAuth> {
    if (request.headers.authorization !== undefined) {
      await bearer(request);
      return { principal: request.principal!, via: 'bearer' };
    }
    if (ticket !== undefined) {
      const principal = await consumeStreamTicket(deps.reader, ticket);
      if (!principal) throw new DomainError('UNAUTHORIZED', 'the ticket is not valid, was already used, or expired; ask POST /v1/stream-tickets for another');
      request.principal = principal;
      return { principal, via: 'ticket' };
    }
    const session = await deps.sessionPrincipal?.(request);
    if (!session) throw unauthorized();
    if (upgrade && !sameOrigin(request.headers.origin, deps.publicUrl)) {
      throw new DomainError('FORBIDDEN', 'a WebSocket signed in by cookie must come from a page of PUBLIC_URL (Origin does not match)', {
        origin: request.headers.origin ?? null,
      });
    }
    if (!allows(session.scopes, 'read')) throw new DomainError('FORBIDDEN', 'this account cannot read', { required: 'read', held: session.scopes });
    request.principal = session;
    return { principal: session, via: 'cookie' };
  };
}

export type StreamAuthenticator = ReturnType<typeof makeStreamAuthenticator>;

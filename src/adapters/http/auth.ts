import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { allows, type Principal, type Scope } from '../../domain/api-key.ts';
import { DomainError } from '../../domain/errors.ts';
import { findActiveKeyByHash, hashKey } from '../postgres/api-key-store.ts';
import type { Tx } from '../../ports/transact.ts';
import { SESSION_COOKIE, type SessionAuth } from './session-auth.ts';
import { sameOrigin } from './stream-auth.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/**
 * Bearer API keys (SPEC section 2). A key found in PostgreSQL is remembered for a few seconds so
 * that a busy client does not cost a query per request; revoking a key therefore takes effect on
 * other API processes within CACHE_MS (at once on the process that revoked it).
 */
const CACHE_MS = 5_000;
const CACHE_MAX = 10_000;

const readMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

export function makeAuthenticator(deps: { reader: Tx; adminApiKey?: string | undefined; sessions?: SessionAuth; publicUrl?: string }) {
  const cache = new Map<string, { principal: Principal | null; until: number }>();
  const adminHash = deps.adminApiKey ? Buffer.from(hashKey(deps.adminApiKey), 'hex') : undefined;

  async function resolve(token: string): Promise<Principal | null> {
    const keyHash = hashKey(token);
    if (adminHash && timingSafeEqual(adminHash, Buffer.from(keyHash, 'hex'))) {
      return { key_id: 'bootstrap', name: 'admin', scopes: ['admin'] };
    }
    const cached = cache.get(keyHash);
    if (cached && cached.until > Date.now()) return cached.principal;
    const record = await findActiveKeyByHash(deps.reader, keyHash);
    const principal = record ? { key_id: record.id, name: record.name, scopes: record.scopes } : null;
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(keyHash, { principal, until: Date.now() + CACHE_MS });
    return principal;
  }

  /**
   * SPEC section 10: a person signed in by the session cookie. A request that changes something
   * must come from a page of PUBLIC_URL (its Origin), else 403: a browser sends the cookie with a
   * form another site posts (SameSite=Lax stops most of those, not all: a sibling subdomain is
   * same-site), and the Origin header is what such a request cannot fake.
   */
  async function bySession(request: FastifyRequest, scope: Scope): Promise<void> {
    const principal = await deps.sessions!.principal(request);
    if (!principal) throw new DomainError('UNAUTHORIZED', 'the session expired or was ended; sign in again (POST /v1/sessions)');
    if (!readMethods.has(request.method) && !sameOrigin(request.headers.origin, deps.publicUrl ?? '')) {
      throw new DomainError('FORBIDDEN', 'a change made with the session cookie must come from a page of PUBLIC_URL (Origin does not match)', {
        origin: request.headers.origin ?? null,
      });
    }
    if (!allows(principal.scopes, scope)) {
      throw new DomainError('FORBIDDEN', `this account's role does not grant the ${scope} scope`, { required: scope, held: principal.scopes });
    }
    request.principal = principal;
  }

  return {
    /** An onRequest hook: runs before the body is read, so an unauthenticated client costs little. */
    require(scope: Scope) {
      return async (request: FastifyRequest): Promise<void> => {
        const header = request.headers.authorization;
        if (header === undefined && deps.sessions && request.cookies?.[SESSION_COOKIE]) return bySession(request, scope);
        const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
        if (!match) {
          throw new DomainError('UNAUTHORIZED', 'send an API key as "Authorization: Bearer <key>", or sign in (POST /v1/sessions)');
        }
        const principal = await resolve(match[1]!);
        if (!principal) throw new DomainError('UNAUTHORIZED', 'the API key is not valid or was revoked');
        if (!allows(principal.scopes, scope)) {
          throw new DomainError('FORBIDDEN', `this API key lacks the ${scope} scope`, {
            required: scope,
            held: principal.scopes,
          });
        }
        request.principal = principal;
      };
    },
    forget(): void {
      cache.clear();
    },
  };
}

export type Authenticator = ReturnType<typeof makeAuthenticator>;

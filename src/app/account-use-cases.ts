import { createHash } from 'node:crypto';
import { DomainError, notFound } from '../domain/errors.ts';
import type { User } from '../domain/user.ts';
import type { Transact } from '../ports/transact.ts';
import type * as SessionStore from '../adapters/postgres/session-store.ts';
import type * as UserStore from '../adapters/postgres/user-store.ts';
import type { FailureCounter } from '../adapters/postgres/rate-limit-store.ts';
import { DUMMY_HASH, hashPassword, verifyPassword } from './password-hash.ts';

// SPEC section 10: people sign in with an email address and a password, set by a one-time link.

/** At most this many failed sign-ins per email in the window, and per client address. */
export const SIGN_IN_LIMITS = { perEmail: 10, perAddress: 50, windowMs: 15 * 60_000 } as const;
/** How long an invitation or reset link stays good. */
export const SETUP_LINK_TTL_HOURS = 24;
export const MIN_PASSWORD_LENGTH = 12;

function checkedPassword(password: string): string {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new DomainError('VALIDATION_ERROR', `invalid request: body.password must have at least ${MIN_PASSWORD_LENGTH} characters`, [
      { field: 'body.password', message: `must have at least ${MIN_PASSWORD_LENGTH} characters` },
    ]);
  }
  return password;
}

export interface SignedIn {
  user: User;
  token: string;
  expires_at: Date;
}

export function makeAccountUseCases(deps: {
  transact: Transact;
  users: Pick<typeof UserStore, 'credentialsByEmail' | 'credentialsById' | 'getUser' | 'setPasswordHash' | 'userIdByEmail'>;
  sessions: Pick<typeof SessionStore, 'createSession' | 'deleteUserSessions' | 'deleteOtherSessions' | 'createSetupToken' | 'consumeSetupToken'>;
  failures: FailureCounter;
  sessionTtlHours: number;
  publicUrl: string;
}) {
  const { users, sessions } = deps;

  async function startSession(userId: string): Promise<SignedIn> {
    return deps.transact(async (tx) => {
      const user = await users.getUser(tx, userId);
      if (!user) throw new DomainError('INVALID_CREDENTIALS', 'the email address or the password is wrong');
      const session = await sessions.createSession(tx, userId, deps.sessionTtlHours);
      return { user, ...session };
    });
  }

  /**
   * The sign-in failure counters of this email (whether or not it exists) and this address,
   * refused with 429 when either is spent.
   */
  async function throttled(email: string, address: string): Promise<string[]> {
    const emailKey = `sign-in:email:${createHash('sha256').update(email.trim().toLowerCase()).digest('base64url')}`;
    const addressKey = `sign-in:address:${address}`;
    const waitMs = await deps.failures.blockedForMs([
      { key: emailKey, max: SIGN_IN_LIMITS.perEmail },
      { key: addressKey, max: SIGN_IN_LIMITS.perAddress },
    ]);
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      throw new DomainError('RATE_LIMIT_EXCEEDED', `too many failed sign-ins; retry in ${seconds} seconds`, { retry_after_seconds: seconds });
    }
    return [emailKey, addressKey];
  }

  async function invite(userId: string): Promise<{ url: string; expires_at: Date }> {
    return deps.transact(async (tx) => {
      if (!(await users.getUser(tx, userId))) throw notFound('USER', userId);
      const { token, expires_at } = await sessions.createSetupToken(tx, userId, SETUP_LINK_TTL_HOURS);
      // In the fragment: a browser never sends it to a server, so no proxy or access log sees it.
      return { url: `${deps.publicUrl}/setup#token=${token}`, expires_at };
    });
  }

  return {
    /**
     * POST /v1/sessions. An unknown email and a wrong password take the same path and the same
     * time (the password is checked against a dummy hash), and get the same error. Failures are
     * counted per email (whether or not it exists) and per client address; past either limit the
     * answer is 429 without checking anything.
     */
    async signIn(email: string, password: string, address: string): Promise<SignedIn> {
      const keys = await throttled(email, address);
      const found = await deps.transact.single((tx) => users.credentialsByEmail(tx, email.trim()));
      const matches = await verifyPassword(password, found?.password_hash ?? DUMMY_HASH);
      if (!found?.password_hash || !matches) {
        await deps.failures.fail(keys, SIGN_IN_LIMITS.windowMs);
        throw new DomainError('INVALID_CREDENTIALS', 'the email address or the password is wrong');
      }
      return startSession(found.id);
    },

    /**
     * POST /v1/me/password: a person signed in changes their password, giving the current one
     * (counted and throttled like a sign-in). Every other session of theirs ends; this one stays.
     */
    async changePassword(userId: string, sessionToken: string, current: string, next: string, address: string): Promise<void> {
      const found = await deps.transact.single((tx) => users.credentialsById(tx, userId));
      if (!found) throw new DomainError('UNAUTHORIZED', 'the account no longer exists');
      const keys = await throttled(found.email, address);
      if (!found.password_hash || !(await verifyPassword(current, found.password_hash))) {
        await deps.failures.fail(keys, SIGN_IN_LIMITS.windowMs);
        throw new DomainError('INVALID_CREDENTIALS', 'the current password is wrong');
      }
      const hash = await hashPassword(checkedPassword(next));
      await deps.transact(async (tx) => {
        await users.setPasswordHash(tx, userId, hash);
        await sessions.deleteOtherSessions(tx, userId, sessionToken);
      });
    },

    /** POST /v1/users/:id/invite: a one-time link to set a password (a reset link if one is set). */
    invite,

    /** `npx tocsin invite <email>`. */
    async inviteByEmail(email: string): Promise<{ url: string; expires_at: Date } | undefined> {
      const id = await deps.transact.single((tx) => users.userIdByEmail(tx, email));
      return id ? invite(id) : undefined;
    },

    /**
     * POST /v1/setup: sets the password of the link's user, ends every session they had (a
     * password change signs out everywhere else), and signs them in.
     */
    async setPassword(token: string, password: string): Promise<SignedIn> {
      // Hashed before the transaction, so no connection waits on scrypt.
      const hash = await hashPassword(checkedPassword(password));
      const userId = await deps.transact(async (tx) => {
        const id = await sessions.consumeSetupToken(tx, token);
        if (!id) {
          throw new DomainError('VALIDATION_ERROR', 'invalid request: body.token is not a valid link, was already used, or expired; ask an admin for a new one', [
            { field: 'body.token', message: 'is not a valid link, was already used, or expired' },
          ]);
        }
        await users.setPasswordHash(tx, id, hash);
        await sessions.deleteUserSessions(tx, id);
        return id;
      });
      return startSession(userId);
    },
  };
}

export type AccountUseCases = ReturnType<typeof makeAccountUseCases>;

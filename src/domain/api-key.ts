export const scopes = ['read', 'write', 'admin'] as const;
export type Scope = (typeof scopes)[number];

/**
 * Scopes are ordered: admin can do everything write can, and write everything read can.
 * A key holds the union of what its scopes grant.
 */
const grants: Record<Scope, readonly Scope[]> = {
  read: ['read'],
  write: ['read', 'write'],
  admin: ['read', 'write', 'admin'],
};

export function allows(held: readonly Scope[], needed: Scope): boolean {
  return held.some((scope) => grants[scope].includes(needed));
}

export interface Principal {
  /**
   * The api_keys row id, `bootstrap` for ADMIN_API_KEY, or `user:<id>` for a person signed in by
   * a session cookie (SPEC section 10). Rate limits and idempotency keys are scoped to it.
   */
  key_id: string;
  name: string;
  scopes: Scope[];
  /** Set for a person signed in (SPEC section 10): the user's id. */
  user_id?: string;
}

/** How a person is written in `created_by` and on the timeline (SPEC section 10). */
export const userActor = (userId: string): string => `user:${userId}`;

/** How a principal is written in `created_by` and on the timeline: a person as `user:<id>`, a key as `api_key:<name>`. */
export const actorOf = (principal: Principal): string => (principal.user_id ? userActor(principal.user_id) : `api_key:${principal.name}`);

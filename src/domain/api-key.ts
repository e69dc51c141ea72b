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
  /** The api_keys row id, or `bootstrap` for ADMIN_API_KEY. Rate limits and idempotency keys are scoped to it. */
  key_id: string;
  name: string;
  scopes: Scope[];
}

/** How a principal is written in `created_by` and on the timeline. */
export const actorOf = (principal: Principal): string => `api_key:${principal.name}`;

import { DomainError, notFound } from '../domain/errors.ts';
import type { Channel } from '../domain/notification.ts';
import type { QuietHours } from '../domain/quiet-hours.ts';
import { canonicalLocale } from '../domain/template.ts';
import { defaultContactMethods, userProblems, type Role, type StoredPreferences, type User } from '../domain/user.ts';
import type { Transact, Tx } from '../ports/transact.ts';
import type * as UserStore from '../adapters/postgres/user-store.ts';
import type { UserChanges } from '../adapters/postgres/user-store.ts';

// SPEC section 5: the people Tocsin pages.

export interface PreferencesInput {
  channels?: Partial<Record<Channel, boolean>>;
  quiet_hours?: QuietHours | null;
}

export interface CreateUserInput {
  name: string;
  email: string;
  phone?: string | null;
  locale?: string;
  timezone?: string;
  contact_methods?: { type: Channel; address: string }[];
  preferences?: PreferencesInput;
  /** SPEC section 10; default responder. */
  role?: Role;
}

export type UpdateUserInput = Partial<CreateUserInput>;

function throwIf(problems: { field: string; message: string }[]) {
  if (problems.length > 0) {
    throw new DomainError('VALIDATION_ERROR', `invalid request: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, problems);
  }
}

export function makeUserUseCases(deps: { transact: Transact; users: typeof UserStore }) {
  const { users } = deps;
  async function emailTaken(tx: Tx, email: string, self?: string) {
    const owner = await users.userIdByEmail(tx, email);
    return owner !== undefined && owner !== self ? [{ field: 'body.email', message: 'is already the email address of another user' }] : [];
  }

  /** POST /v1/users. Without contact_methods the user is reachable at their email (and phone, by SMS). */
  async function createWithin(tx: Tx, input: CreateUserInput): Promise<User> {
    throwIf(userProblems(input));
    throwIf(await emailTaken(tx, input.email));
    const preferences: StoredPreferences = {
      channels: input.preferences?.channels ?? {},
      quiet_hours: input.preferences?.quiet_hours ?? null,
    };
    return users.insertUser(tx, {
      name: input.name,
      email: input.email,
      role: input.role ?? 'responder',
      phone: input.phone ?? null,
      locale: canonicalLocale(input.locale ?? 'en'),
      // Kept as written: Intl would rename some zones (Asia/Kolkata to Asia/Calcutta).
      timezone: input.timezone ?? 'UTC',
      preferences,
      contact_methods: input.contact_methods ?? defaultContactMethods(input.email, input.phone),
    });
  }

  /**
   * PATCH /v1/users/:id. contact_methods, when given, replaces the list; preferences.channels is
   * merged channel by channel; preferences.quiet_hours replaces (null removes them).
   */
  async function update(id: string, input: UpdateUserInput, expectedVersion?: number): Promise<User> {
    throwIf(userProblems(input));
    return deps.transact(async (tx) => {
      const current = await users.lockUser(tx, id);
      if (!current) throw notFound('USER', id);
      if (expectedVersion !== undefined && current.version !== expectedVersion) {
        throw new DomainError('PRECONDITION_FAILED', 'the user changed since the ETag given in If-Match', { current_etag: `"${current.version}"` });
      }
      if (input.email !== undefined) throwIf(await emailTaken(tx, input.email, id));
      const changes: UserChanges = {};
      if (input.name !== undefined) changes.name = input.name;
      if (input.email !== undefined) changes.email = input.email;
      if (input.role !== undefined) changes.role = input.role;
      if (input.phone !== undefined) changes.phone = input.phone;
      if (input.locale !== undefined) changes.locale = canonicalLocale(input.locale);
      if (input.timezone !== undefined) changes.timezone = input.timezone;
      if (input.contact_methods !== undefined) changes.contact_methods = input.contact_methods;
      if (input.preferences !== undefined) {
        changes.preferences = {
          channels: { ...current.preferences.channels, ...input.preferences.channels },
          quiet_hours: input.preferences.quiet_hours === undefined ? current.preferences.quiet_hours : input.preferences.quiet_hours,
        };
      }
      if (Object.keys(changes).length === 0) return current;
      return users.updateUser(tx, id, changes);
    });
  }
  return { createWithin, create: (input: CreateUserInput) => deps.transact((tx) => createWithin(tx, input)), update };
}

export type UserUseCases = ReturnType<typeof makeUserUseCases>;

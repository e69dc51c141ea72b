import { sql } from 'kysely';
import { DomainError } from '../../domain/errors.ts';
import type { Channel } from '../../domain/notification.ts';
import { fullPreferences, type ContactMethod, type Role, type StoredPreferences, type User } from '../../domain/user.ts';
import type { Tx } from '../../ports/transact.ts';
import { decodeCursor, page } from './cursor.ts';
import type { Executor } from './database.ts';
import { executor } from './transact.ts';

// People (SPEC section 5): plain functions, the transaction first.

export interface NewUserRow {
  name: string;
  email: string;
  role: Role;
  phone: string | null;
  locale: string;
  timezone: string;
  preferences: StoredPreferences;
  contact_methods: { type: Channel; address: string }[];
}

export type UserChanges = Partial<Omit<NewUserRow, 'preferences'>> & { preferences?: StoredPreferences };

const columns = ['id', 'name', 'email', 'role', 'phone', 'locale', 'time_zone', 'preferences', 'version', 'created_at', 'updated_at'] as const;

interface UserRow {
  id: string;
  name: string;
  email: string;
  role: Role;
  phone: string | null;
  locale: string;
  time_zone: string;
  preferences: Record<string, unknown>;
  version: number;
  created_at: Date;
  updated_at: Date;
}

function toUser({ time_zone, preferences, ...row }: UserRow, contactMethods: ContactMethod[]): User {
  return { ...row, timezone: time_zone, preferences: fullPreferences(preferences as StoredPreferences), contact_methods: contactMethods };
}

/** A user's contact methods in order, as a column, so that reading users is one round trip. */
const contactMethods = sql<ContactMethod[]>`coalesce((select json_agg(json_build_object('id', c.id, 'type', c.type, 'address', c.address) order by c.position) from contact_methods c where c.user_id = users.id), '[]')`.as('contact_methods');

/** Users with their contact methods, one statement whatever the filter. */
const selectUsers = (db: Executor) => db.selectFrom('users').select(columns).select(contactMethods);
const userOf = ({ contact_methods, ...row }: UserRow & { contact_methods: ContactMethod[] }) => toUser(row, contact_methods);

export async function getUser(tx: Tx, id: string): Promise<User | undefined> {
  const row = await selectUsers(executor(tx)).where('id', '=', id).executeTakeFirst();
  return row ? userOf(row as UserRow & { contact_methods: ContactMethod[] }) : undefined;
}

export async function listUsers(tx: Tx, filter: { email?: string; limit: number; cursor?: string }) {
  let query = selectUsers(executor(tx));
  if (filter.email) query = query.where(sql<boolean>`lower(email) = lower(${filter.email})`);
  if (filter.cursor) {
    const after = decodeCursor(filter.cursor);
    query = query.where(sql<boolean>`(created_at, id) < (${after.created_at}, ${after.id}::uuid)`);
  }
  const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit + 1).execute();
  const result = page(rows as (UserRow & { contact_methods: ContactMethod[] })[], filter.limit);
  return { data: result.data.map(userOf), next_cursor: result.next_cursor };
}

/** A second user with the same email address (any case) is refused, naming the field. */
function translateDuplicate(error: unknown): unknown {
  const e = error as { code?: string; constraint?: string };
  if (e?.code === '23505' && e.constraint === 'users_email_idx') {
    return new DomainError('VALIDATION_ERROR', 'another user has this email address', [
      { field: 'body.email', message: 'is already the email address of another user' },
    ], { cause: error });
  }
  return error;
}

async function replaceMethods(db: Executor, userId: string, methods: { type: Channel; address: string }[]) {
  await db.deleteFrom('contact_methods').where('user_id', '=', userId).execute();
  if (methods.length > 0) {
    await db
      .insertInto('contact_methods')
      .values(methods.map((m, position) => ({ user_id: userId, position, type: m.type, address: m.address })))
      .execute();
  }
}

export async function insertUser(tx: Tx, { contact_methods, timezone, preferences, ...row }: NewUserRow): Promise<User> {
  const db = executor(tx);
  let inserted: UserRow;
  try {
    inserted = (await db
      .insertInto('users')
      .values({ ...row, time_zone: timezone, preferences: JSON.stringify(preferences) })
      .returning(columns)
      .executeTakeFirstOrThrow()) as UserRow;
  } catch (error) {
    throw translateDuplicate(error);
  }
  await replaceMethods(db, inserted.id, contact_methods);
  return (await getUser(tx, inserted.id))!;
}

/** Reads and row-locks a user until the transaction ends. */
export async function lockUser(tx: Tx, id: string): Promise<User | undefined> {
  const row = await selectUsers(executor(tx)).where('id', '=', id).forUpdate().executeTakeFirst();
  return row ? userOf(row as UserRow & { contact_methods: ContactMethod[] }) : undefined;
}

export async function updateUser(tx: Tx, id: string, { contact_methods, timezone, preferences, ...changes }: UserChanges): Promise<User> {
  const db = executor(tx);
  try {
    await db
      .updateTable('users')
      .set({
        ...changes,
        ...(timezone === undefined ? {} : { time_zone: timezone }),
        ...(preferences === undefined ? {} : { preferences: JSON.stringify(preferences) }),
        version: sql`version + 1`,
        updated_at: sql`now()`,
      })
      .where('id', '=', id)
      .returning('id')
      .executeTakeFirstOrThrow();
  } catch (error) {
    throw translateDuplicate(error);
  }
  if (contact_methods !== undefined) await replaceMethods(db, id, contact_methods);
  return (await getUser(tx, id))!;
}

/** The users with these ids that exist, with their contact methods. */
export async function getUsers(tx: Tx, ids: string[]): Promise<User[]> {
  if (ids.length === 0) return [];
  // One round trip: paging reads the people of a level inside the transaction of every alert.
  const rows = await selectUsers(executor(tx)).where('id', 'in', [...new Set(ids)]).execute();
  return rows.map((row) => userOf(row as UserRow & { contact_methods: ContactMethod[] }));
}

/** The id of the user with this email address (any case), if there is one. */
export async function userIdByEmail(tx: Tx, email: string): Promise<string | undefined> {
  const row = await executor(tx).selectFrom('users').select('id').where(sql<boolean>`lower(email) = lower(${email})`).executeTakeFirst();
  return row?.id;
}



/** The names of these users, by id (users that do not exist are left out). */
export async function userNames(tx: Tx, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await executor(tx).selectFrom('users').select(['id', 'name']).where('id', 'in', [...new Set(ids)]).execute();
  return new Map(rows.map((row) => [row.id, row.name]));
}

/** SPEC section 10: what signing in needs to know of the user with this email address (any case). */
export async function credentialsByEmail(tx: Tx, email: string): Promise<{ id: string; password_hash: string | null } | undefined> {
  return executor(tx).selectFrom('users').select(['id', 'password_hash']).where(sql<boolean>`lower(email) = lower(${email})`).executeTakeFirst();
}

export async function credentialsById(tx: Tx, id: string): Promise<{ id: string; email: string; password_hash: string | null } | undefined> {
  return executor(tx).selectFrom('users').select(['id', 'email', 'password_hash']).where('id', '=', id).executeTakeFirst();
}

/** Sets a user's password hash (SPEC section 10); the caller ends their sessions in the same transaction. */
export async function setPasswordHash(tx: Tx, id: string, hash: string): Promise<void> {
  await executor(tx).updateTable('users').set({ password_hash: hash }).where('id', '=', id).execute();
}

/** Whether the user has set a password (an invite to such a user is a reset link). */
export async function hasPassword(tx: Tx, id: string): Promise<boolean> {
  const row = await executor(tx).selectFrom('users').select(sql<boolean>`password_hash is not null`.as('set')).where('id', '=', id).executeTakeFirst();
  return row?.set === true;
}

/** The users whose phone number or SMS contact method is this number (SPEC section 10, SMS replies). */
export async function usersBySmsNumber(tx: Tx, phone: string): Promise<{ id: string; name: string }[]> {
  return executor(tx)
    .selectFrom('users')
    .select(['id', 'name'])
    .where((eb) => eb.or([
      eb('phone', '=', phone),
      eb.exists(eb.selectFrom('contact_methods as m').select('m.id').whereRef('m.user_id', '=', 'users.id').where('m.type', '=', 'sms').where('m.address', '=', phone)),
    ]))
    .execute();
}

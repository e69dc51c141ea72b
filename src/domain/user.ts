import type { Scope } from './api-key.ts';
import { channels, recipientProblem, type Channel } from './notification.ts';
import { quietHoursProblems, timeZoneProblem, type QuietHours } from './quiet-hours.ts';
import { localeProblem } from './template.ts';

// SPEC section 5: the people Tocsin pages, how to reach them, and when not to.

export interface ContactMethod {
  id: string;
  type: Channel;
  address: string;
}

export interface Preferences {
  /** Every channel is on unless turned off here. */
  channels: Record<Channel, boolean>;
  quiet_hours: QuietHours | null;
}

/** SPEC section 10: what a person may do when signed in, as an API key's scopes say it for a tool. */
export const roles = ['responder', 'admin'] as const;
export type Role = (typeof roles)[number];

export const scopesOfRole = (role: Role): Scope[] => (role === 'admin' ? ['admin'] : ['read', 'write']);

export interface User {
  id: string;
  name: string;
  email: string;
  role: Role;
  phone: string | null;
  locale: string;
  timezone: string;
  contact_methods: ContactMethod[];
  preferences: Preferences;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export interface StoredPreferences {
  channels?: Partial<Record<Channel, boolean>>;
  quiet_hours?: QuietHours | null;
}

/** Preferences as stored (only what was said), with the defaults filled in. */
export function fullPreferences(stored: StoredPreferences): Preferences {
  return {
    channels: Object.fromEntries(channels.map((c) => [c, stored.channels?.[c] ?? true])) as Record<Channel, boolean>,
    quiet_hours: stored.quiet_hours ?? null,
  };
}

/** The contact methods an incident may page: those of channels the user has not turned off. */
export function pageableMethods(user: Pick<User, 'contact_methods' | 'preferences'>): ContactMethod[] {
  return user.contact_methods.filter((method) => user.preferences.channels[method.type]);
}

/**
 * A user's contact methods when none are given: the email address, and the phone number for
 * SMS. Given explicitly (even as an empty list), the list is taken as it is.
 */
export function defaultContactMethods(email: string, phone: string | null | undefined): { type: Channel; address: string }[] {
  return [{ type: 'email', address: email }, ...(phone ? [{ type: 'sms' as const, address: phone }] : [])];
}

export interface UserFields {
  email?: string;
  phone?: string | null;
  locale?: string;
  timezone?: string;
  contact_methods?: { type: Channel; address: string }[];
  preferences?: { quiet_hours?: QuietHours | null };
}

/** What the schema cannot check about a user's fields, each with its path under `body`. */
export function userProblems(fields: UserFields): { field: string; message: string }[] {
  const problems: { field: string; message: string }[] = [];
  const check = (field: string, problem: string | null) => {
    if (problem) problems.push({ field: `body.${field}`, message: problem });
  };
  if (fields.email !== undefined) check('email', recipientProblem('email', fields.email));
  if (fields.phone) check('phone', recipientProblem('sms', fields.phone));
  if (fields.locale !== undefined) check('locale', localeProblem(fields.locale));
  if (fields.timezone !== undefined) check('timezone', timeZoneProblem(fields.timezone));
  fields.contact_methods?.forEach((method, index) => check(`contact_methods.${index}.address`, recipientProblem(method.type, method.address)));
  const quiet = fields.preferences?.quiet_hours;
  if (quiet) for (const p of quietHoursProblems(quiet)) check(`preferences.quiet_hours.${p.field}`, p.message);
  return problems;
}

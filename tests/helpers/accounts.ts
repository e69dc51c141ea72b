import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { TestApp } from './test-app.ts';

// SPEC section 10: a person with an account, signed in through the real routes (invite, setup).

export const PASSWORD = 'correct horse battery';

export interface Person {
  id: string;
  email: string;
  name: string;
  /** The Cookie header of the session the setup link opened. */
  cookie: string;
}

/** The `tocsin_session=...` pair a response set, for a Cookie header. */
export function sessionCookie(response: LightMyRequestResponse): string {
  const set = response.cookies.find((c) => c.name === 'tocsin_session');
  expect(set, `no session cookie in ${response.statusCode} ${response.body}`).toBeDefined();
  return `tocsin_session=${set!.value}`;
}

export const tokenOf = (url: string) => new URL(url).hash.replace(/^#token=/, '');

export async function invite(t: TestApp, userId: string): Promise<string> {
  const response = await t.call({ method: 'POST', url: `/v1/users/${userId}/invite` });
  expect(response.statusCode, response.body).toBe(201);
  return tokenOf(response.json().url);
}

/** A user of this role with a password, signed in. */
export async function signedUpPerson(t: TestApp, options: { role?: 'responder' | 'admin'; name?: string; extra?: Record<string, unknown> } = {}): Promise<Person> {
  const name = options.name ?? 'Ann';
  const email = `${name.toLowerCase().replace(/\W/g, '')}-${randomUUID()}@example.com`;
  const created = await t.call({ method: 'POST', url: '/v1/users', payload: { name, email, ...(options.role ? { role: options.role } : {}), ...options.extra } });
  expect(created.statusCode, created.body).toBe(201);
  const id = created.json().id as string;
  const setup = await t.app.inject({ method: 'POST', url: '/v1/setup', payload: { token: await invite(t, id), password: PASSWORD } });
  expect(setup.statusCode, setup.body).toBe(201);
  return { id, email, name, cookie: sessionCookie(setup) };
}

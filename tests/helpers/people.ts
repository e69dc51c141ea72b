import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { TestApp } from './test-app.ts';

// References must name something that exists (SPEC section 2): tests that give an incident, an
// integration or a heartbeat a team or an assignee make real ones.

export async function createUser(t: TestApp, name = 'Ann'): Promise<{ id: string; email: string }> {
  const response = await t.call({ method: 'POST', url: '/v1/users', payload: { name, email: `${name.toLowerCase()}-${randomUUID()}@example.com` } });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

/** A team with no members and no policy: incidents of it page nobody. */
export async function createTeam(t: TestApp, name = 'Platform'): Promise<string> {
  const response = await t.call({ method: 'POST', url: '/v1/teams', payload: { name } });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id;
}

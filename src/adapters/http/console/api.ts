// The console talks to the public API only (SPEC section 8), through openapi-fetch typed by the
// generated openapi.d.ts: a route or field the API does not have is a type error here. The session
// cookie rides along (same origin); the browser adds the Origin header the API checks on writes.
import createClient from 'openapi-fetch';
import { signal } from '@preact/signals';
import type { paths } from './openapi.d.ts';

export const api = createClient<paths>({ baseUrl: '' });

type Json<T> = T extends { content: { 'application/json': infer Body } } ? Body : never;
/** The JSON body of a path's GET answer. */
export type Got<P extends keyof paths> = paths[P] extends { get: { responses: { 200: infer R } } } ? Json<R> : never;
export type Incident = Got<'/v1/incidents/{id}'>;
export type TimelineEvent = Got<'/v1/incidents/{id}/events'>['data'][number];
export type Notification = Got<'/v1/notifications/{id}'>;
export type User = Got<'/v1/users/{id}'> & { role?: string };
export type Team = Got<'/v1/teams/{id}'>;
export type Policy = Got<'/v1/escalation-policies/{id}'>;
export type Schedule = Got<'/v1/schedules/{id}'>;

/** The contract's error shape (SPEC section 2). */
export interface ApiError {
  code: string;
  message: string;
  request_id?: string;
  details?: unknown;
}

/** An API call that failed, with the sentence to show a person. */
export class Problem extends Error {
  readonly code: string;
  readonly status: number;
  constructor(sentence: string, code: string, status: number) {
    super(sentence);
    this.code = code;
    this.status = status;
  }
}

/** Set when an answer says the session is gone: the console shows the sign-in page again. */
export const signedOut = signal(0);

const things: Record<string, string> = {
  INCIDENT_NOT_FOUND: 'incident', NOTIFICATION_NOT_FOUND: 'notification', USER_NOT_FOUND: 'user', TEAM_NOT_FOUND: 'team',
  ESCALATION_POLICY_NOT_FOUND: 'escalation policy', SCHEDULE_NOT_FOUND: 'schedule', INTEGRATION_NOT_FOUND: 'integration',
  HEARTBEAT_NOT_FOUND: 'heartbeat', API_KEY_NOT_FOUND: 'API key',
};

const fieldName = (field: string) => field.replace(/^(body|querystring|params|headers)\./, '').replace(/_/g, ' ').replace(/\.(\d+)/g, ' #$1');

/** Says an error of the contract's shape as a sentence a person can act on. */
export function sentence(error: ApiError, status: number): string {
  const details = (error.details ?? {}) as Record<string, unknown>;
  switch (error.code) {
    case 'VALIDATION_ERROR': {
      const fields = Array.isArray(error.details) ? (error.details as { field: string; message: string }[]) : [];
      if (fields.length === 0) return `Something in the form is not right: ${error.message}.`;
      return `Please check ${fields.length === 1 ? 'this field' : 'these fields'}: ${fields.map((f) => `${fieldName(f.field)} ${f.message}`).join('; ')}.`;
    }
    case 'PRECONDITION_FAILED':
      return 'Someone else changed this while you were editing, so your change was not saved. The page now shows the latest version: check it and make your change again.';
    case 'INVALID_STATUS_TRANSITION':
      return details.from === 'resolved'
        ? 'This incident is already resolved, which is final.'
        : `This incident is ${String(details.from)} and cannot become ${String(details.to)}.`;
    case 'INVALID_CREDENTIALS':
      return 'That email and password do not match an account. Check them and try again.';
    case 'UNAUTHORIZED':
      return 'You are signed out. Sign in again to continue.';
    case 'FORBIDDEN':
      return 'You are not allowed to do this. Ask an administrator.';
    case 'RATE_LIMIT_EXCEEDED': {
      const seconds = Number(details.retry_after_seconds);
      return `Too many attempts. Try again in ${Number.isFinite(seconds) ? `${seconds} seconds` : 'a moment'}.`;
    }
    case 'NOT_RETRYABLE':
      return 'Only a failed notification can be retried, and this one has not failed (it may have been retried already).';
    case 'NOT_CANCELLABLE':
      return 'This notification can no longer be cancelled: it is already being sent or has ended.';
    case 'IDEMPOTENCY_KEY_CONFLICT':
      return 'This form was already sent with different values. Reload the page and try again.';
    case 'PAYLOAD_TOO_LARGE':
      return 'That is too much text to send at once.';
    case 'SERVICE_UNAVAILABLE':
      return 'Tocsin is restarting. Try again in a moment.';
    default: {
      const thing = things[error.code];
      if (thing) return `This ${thing} does not exist any more. It may have been deleted.`;
      if (status >= 500) return `Tocsin could not do this because of a fault on its side. If it keeps happening, quote this reference: ${error.request_id ?? 'none'}.`;
      const message = error.message ? error.message[0]!.toUpperCase() + error.message.slice(1) : error.code;
      return message.endsWith('.') ? message : `${message}.`;
    }
  }
}

const unreachable = 'Tocsin cannot be reached. Check your connection; the page will catch up when it is back.';

/**
 * Awaits an openapi-fetch call: its data, or a Problem whose message is the sentence to show.
 * A 401 also signs the console out.
 */
export async function call<R extends { data?: unknown; error?: unknown; response: Response }>(
  request: Promise<R>,
): Promise<{ data: NonNullable<R['data']>; response: Response }> {
  let result: R;
  try {
    result = await request;
  } catch {
    throw new Problem(unreachable, 'NETWORK', 0);
  }
  const { response } = result;
  if (!response.ok) {
    const body = (result.error && typeof result.error === 'object' && 'code' in result.error ? result.error : { code: 'HTTP_' + response.status, message: response.statusText }) as ApiError;
    if (response.status === 401 && body.code === 'UNAUTHORIZED') signedOut.value++;
    throw new Problem(sentence(body, response.status), body.code, response.status);
  }
  return { data: result.data as NonNullable<R['data']>, response };
}

/** The data of a call, for when the headers do not matter. */
export const get = async <R extends { data?: unknown; error?: unknown; response: Response }>(request: Promise<R>) => (await call(request)).data;

/** Every page of a list (SPEC section 2: every list paginates); the console's lists are small. */
export async function all<T>(page: (cursor: string | undefined) => Promise<{ data: T[]; next_cursor?: string | null }>, max = 2000): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const answer = await page(cursor);
    items.push(...answer.data);
    cursor = answer.next_cursor ?? undefined;
  } while (cursor && items.length < max);
  return items;
}

/** The sentence of whatever went wrong. */
export const problemText = (error: unknown) => (error instanceof Problem ? error.message : 'Something went wrong in the console. Reload the page.');

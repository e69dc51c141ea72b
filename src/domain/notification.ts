import type { NotificationSummary } from './incident.ts';

export const channels = ['email', 'sms', 'push', 'webhook', 'slack'] as const;
export type Channel = (typeof channels)[number];

export const priorities = ['high', 'normal', 'low'] as const;
export type Priority = (typeof priorities)[number];

export const notificationStatuses = ['scheduled', 'queued', 'sending', 'sent', 'failed', 'cancelled'] as const;
export type NotificationStatus = (typeof notificationStatuses)[number];

export interface Attempt {
  attempt: number;
  at: Date;
  outcome: 'sent' | 'retry' | 'failed';
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

export interface Notification {
  id: string;
  channel: Channel;
  recipient: string;
  user_id: string | null;
  subject: string | null;
  content: string;
  /** 'html' when rendered from an email template (SPEC section 5); plain text otherwise. */
  content_type: 'text' | 'html';
  priority: Priority;
  status: NotificationStatus;
  scheduled_at: Date | null;
  max_retries: number;
  retry_count: number;
  attempt_count: number;
  batch_id: string | null;
  incident_id: string | null;
  metadata: Record<string, unknown>;
  job_id: string | null;
  last_error: string | null;
  sent_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

// SPEC section 4: max_retries defaults by priority.
export const defaultMaxRetries: Record<Priority, number> = { high: 5, normal: 3, low: 2 };

// pg-boss fetches higher numbers first within a queue.
export const jobPriority: Record<Priority, number> = { high: 20, normal: 10, low: 0 };

/** A notification may be cancelled until a worker has started sending it. */
export const isCancellable = (status: NotificationStatus): boolean => status === 'scheduled' || status === 'queued';

/** Only a notification that failed for good can be sent again (redrive from the dead letter queue). */
export const isRetryable = (status: NotificationStatus): boolean => status === 'failed';

/** Scheduled in the future means `scheduled`; otherwise it is queued at once. */
export function initialStatus(scheduledAt: Date | null, now: Date): 'scheduled' | 'queued' {
  return scheduledAt !== null && scheduledAt.getTime() > now.getTime() ? 'scheduled' : 'queued';
}

/** What a provider answered, in terms the rules below understand. */
export type DeliveryResult =
  | { ok: true; status_code?: number }
  | { ok: false; permanent: boolean; status_code?: number; error: string; retry_after_ms?: number };

/**
 * HTTP statuses (SPEC section 4): 2xx is delivered; 408, 429 and 5xx are worth another try;
 * every other 4xx is the request's own fault and fails at once, and so does a 3xx: redirects are
 * not followed, and asking again would only be redirected again.
 */
export function isPermanentHttpStatus(status: number): boolean {
  return status >= 300 && status < 500 && status !== 408 && status !== 429;
}

export type Decision =
  | { kind: 'sent' }
  | { kind: 'retry'; delay_ms: number }
  | { kind: 'failed' };

/**
 * After an attempt: sent, another try after a delay, or failed for good. `attempt` counts from 1;
 * a notification gets 1 + max_retries attempts. The delay follows RETRY_BACKOFF (the last value
 * repeats) with ±20% jitter, so retries of a burst do not arrive together; a provider's
 * Retry-After is honoured when it asks for longer, up to `retryAfterMaxMs` (RETRY_AFTER_MAX_SECONDS):
 * a receiver asking for a year must not park a page for a year.
 */
export function decideAfterAttempt(
  result: DeliveryResult,
  attempt: number,
  maxRetries: number,
  backoffMs: readonly number[],
  random: () => number = Math.random,
  retryAfterMaxMs = 3_600_000,
): Decision {
  if (result.ok) return { kind: 'sent' };
  if (result.permanent || attempt > maxRetries) return { kind: 'failed' };
  const base = backoffMs[Math.min(attempt - 1, backoffMs.length - 1)] ?? 0;
  const jittered = Math.round(base * (0.8 + 0.4 * random()));
  return { kind: 'retry', delay_ms: Math.max(jittered, Math.min(result.retry_after_ms ?? 0, retryAfterMaxMs)) };
}

/** The incident's `notification_status`, from the statuses of its (not cancelled) notifications. */
export function summarize(counts: { pending: number; sent: number; failed: number }): NotificationSummary {
  const total = counts.pending + counts.sent + counts.failed;
  if (total === 0) return 'none';
  if (counts.pending > 0) return 'pending';
  if (counts.failed === 0) return 'sent';
  if (counts.sent === 0) return 'failed';
  return 'partial';
}

const emailPattern = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;
const phonePattern = /^\+[1-9]\d{6,14}$/;

/** Why a recipient cannot be used on a channel, or null when it can. */
export function recipientProblem(channel: Channel, recipient: string): string | null {
  switch (channel) {
    case 'email':
      return emailPattern.test(recipient) ? null : 'must be an email address';
    case 'sms':
      return phonePattern.test(recipient) ? null : 'must be a phone number in E.164 form, such as +14155550100';
    case 'push':
      return /^\S{1,4096}$/.test(recipient) ? null : 'must be a device token';
    case 'webhook':
    case 'slack': {
      try {
        const url = new URL(recipient);
        if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an http or https URL';
        if (url.username || url.password) return 'must not carry credentials in the URL';
        return null;
      } catch {
        return 'must be an http or https URL';
      }
    }
  }
}

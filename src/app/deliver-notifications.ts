import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { decideAfterAttempt, type Channel, type DeliveryResult, type Notification } from '../domain/notification.ts';
import type { Clock } from '../ports/clock.ts';
import type { ChannelRateLimiter, CircuitBreakers, OutgoingMessage, Providers } from '../ports/provider.ts';
import type { AttemptRecord, DeliveryJob, NewTimelineEvent, Transact } from '../ports/unit-of-work.ts';

export interface DeliveryDeps {
  providers: Providers;
  breakers: CircuitBreakers;
  rateLimiter: ChannelRateLimiter;
  transact: Transact;
  clock: Clock;
  backoffMs: readonly number[];
  /**
   * Moves the notifications of these jobs from queued/scheduled (or sending, when pg-boss hands
   * back the job of a crashed worker) to sending, and returns them. A job that is no longer its
   * notification's current one (cancelled, or replaced by a retry) is not returned.
   */
  claim(channel: Channel, jobs: { job_id: string; notification_id: string }[]): Promise<Notification[]>;
  observe?(channel: Channel, outcome: 'sent' | 'retry' | 'failed' | 'deferred', durationMs: number): void;
  random?: () => number;
  /**
   * Aborted when the process shuts down (SPEC section 1): a batch stops waiting for the rate
   * limit and starts nothing more; what it claimed but did not start goes back to the queue.
   */
  stopping?: AbortSignal;
}

export interface ClaimedJob {
  job_id: string;
  notification_id: string;
}

const toMessage = (n: Notification): OutgoingMessage => ({
  id: n.id,
  channel: n.channel,
  recipient: n.recipient,
  subject: n.subject,
  content: n.content,
  content_type: n.content_type,
  metadata: n.metadata,
  incident_id: n.incident_id,
  created_at: n.created_at,
  attempt: n.attempt_count + 1,
});

async function attempt(deps: DeliveryDeps, notification: Notification) {
  const provider = deps.providers[notification.channel];
  const message = toMessage(notification);
  const started = performance.now();
  let result: DeliveryResult | { open: true; retry_in_ms: number };
  try {
    result = await deps.breakers.run(provider.breakerKey(message), () => provider.deliver(message));
  } catch (error) {
    // A provider that throws has a bug or met something unforeseen; it is retried, not lost.
    result = { ok: false, permanent: false, error: (error as Error).message };
  }
  return { notification, result, duration_ms: Math.round(performance.now() - started) };
}

// How long a batch may wait in the worker for the rate limit before the rest is re-queued.
const RATE_LIMIT_WAIT_MS = 5000;

/**
 * The channel rate limit (SPEC section 4): delivers what this second's window grants at once and
 * waits here for the next windows for the rest, up to RATE_LIMIT_WAIT_MS; returns what is still
 * waiting then. Re-queueing the rest at once instead left the limit about half used (nothing wakes
 * a worker when a deferred job comes due, so it waited for the next poll) and, under a backlog,
 * re-queued the whole backlog every second, because each refused full batch made pg-boss fetch
 * the next one at once. Found by tests/delivery-reliability.test.ts (issue 3).
 */
async function attemptWithinRateLimit(deps: DeliveryDeps, channel: Channel, claimed: Notification[]) {
  const inFlight: ReturnType<typeof attempt>[] = [];
  let waiting = claimed;
  let retryInMs = 0;
  const waitUntil = Date.now() + RATE_LIMIT_WAIT_MS;
  for (;;) {
    if (deps.stopping?.aborted) break;
    let grant: Awaited<ReturnType<ChannelRateLimiter['acquire']>>;
    try {
      grant = await deps.rateLimiter.acquire(channel, waiting.length);
    } catch (error) {
      // With deliveries already out, record them and re-queue the rest rather than fail the batch
      // (which would deliver them all again).
      if (inFlight.length === 0) throw error;
      retryInMs = 1000;
      break;
    }
    inFlight.push(...waiting.slice(0, grant.granted).map((n) => attempt(deps, n)));
    waiting = waiting.slice(grant.granted);
    retryInMs = grant.retry_in_ms;
    if (waiting.length === 0 || Date.now() + retryInMs > waitUntil) break;
    await sleep(retryInMs, undefined, deps.stopping ? { signal: deps.stopping } : {}).catch(() => {});
  }
  return { outcomes: await Promise.all(inFlight), waiting, retryInMs };
}

/**
 * Delivers one batch of jobs of a channel and records every outcome in one transaction: the
 * attempts, the new statuses, the retry jobs, the incidents' summaries and their timelines.
 * Notifications that failed for good get a job in their channel's dead letter queue, in the same
 * transaction.
 */
export async function deliverJobs(deps: DeliveryDeps, channel: Channel, jobs: ClaimedJob[]): Promise<void> {
  const claimed = await deps.claim(channel, jobs);
  if (claimed.length === 0) return;

  const { outcomes, waiting, retryInMs } = await attemptWithinRateLimit(deps, channel, claimed);
  const now = deps.clock.now();

  // What the limit did not grant in time goes back to the queue for its next window.
  const deferred: { notification: Notification; delay_ms: number }[] = waiting.map((notification) => ({ notification, delay_ms: retryInMs }));
  const records: AttemptRecord[] = [];
  const retryJobs: DeliveryJob[] = [];
  const events: NewTimelineEvent[] = [];
  const deadLettered: string[] = [];

  for (const { notification: n, result, duration_ms } of outcomes) {
    if ('open' in result) {
      deferred.push({ notification: n, delay_ms: result.retry_in_ms });
      deps.observe?.(channel, 'deferred', 0);
      continue;
    }
    const decision = decideAfterAttempt(result, n.retry_count + 1, n.max_retries, deps.backoffMs, deps.random);
    deps.observe?.(channel, decision.kind, duration_ms);
    const base = {
      notification_id: n.id,
      attempt: {
        attempt: n.attempt_count + 1,
        at: now,
        outcome: decision.kind,
        status_code: result.status_code ?? null,
        error: result.ok ? null : result.error,
        duration_ms,
      },
    };
    if (decision.kind === 'sent') {
      records.push({ ...base, status: 'sent', last_error: null, sent_at: now });
    } else if (decision.kind === 'retry') {
      const jobId = randomUUID();
      retryJobs.push({ id: jobId, channel, notification_id: n.id, priority: n.priority, start_after: new Date(now.getTime() + decision.delay_ms) });
      records.push({ ...base, status: 'queued', job_id: jobId, last_error: base.attempt.error, sent_at: null });
    } else {
      records.push({ ...base, status: 'failed', last_error: base.attempt.error, sent_at: null });
      deadLettered.push(n.id);
    }
    if (n.incident_id && decision.kind !== 'retry') {
      events.push({
        incident_id: n.incident_id,
        type: decision.kind === 'sent' ? 'notification.sent' : 'notification.failed',
        actor: 'tocsin',
        data: {
          notification_id: n.id,
          channel,
          recipient: n.recipient,
          attempts: n.attempt_count + 1,
          ...(result.ok ? {} : { error: result.error }),
        },
      });
    }
  }

  const requeued = deferred.map(({ notification, delay_ms }) => ({
    job: {
      id: randomUUID(),
      channel,
      notification_id: notification.id,
      priority: notification.priority,
      start_after: new Date(now.getTime() + Math.max(delay_ms, 50)),
    },
  }));

  const incidents = [...new Set(claimed.filter((n) => n.incident_id).map((n) => n.incident_id!))];
  const newJobs = [...retryJobs, ...requeued.map(({ job }) => job)];
  if (requeued.length === 0 && newJobs.length === 0 && incidents.length === 0 && events.length === 0 && deadLettered.length === 0) {
    // The common case (every notification of the batch sent or failed, none linked to an
    // incident) is one statement, atomic by itself.
    if (records.length > 0) await deps.transact.single((stores) => stores.notifications.recordAttempts(records));
    return;
  }
  await deps.transact(async (stores) => {
    if (records.length > 0) await stores.notifications.recordAttempts(records);
    if (requeued.length > 0) await stores.notifications.requeue(requeued.map(({ job }) => ({ notification_id: job.notification_id, job_id: job.id })));
    if (newJobs.length > 0) await stores.jobs.enqueue(newJobs);
    if (deadLettered.length > 0) await stores.jobs.deadLetter(channel, deadLettered);
    if (incidents.length > 0) await stores.notifications.refreshIncidentSummaries(incidents);
    if (events.length > 0) await stores.timeline.appendMany(events);
  });
}

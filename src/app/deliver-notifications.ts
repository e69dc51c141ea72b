import { setTimeout as sleep } from 'node:timers/promises';
import { EXCERPT_BYTES, sanitizeExcerpt } from '../domain/answer-excerpt.ts';
import { DomainError } from '../domain/errors.ts';
import { decideAfterAttempt, type Channel, type DeliveryResult } from '../domain/notification.ts';
import type { Clock } from '../ports/clock.ts';
import type { ChannelRateLimiter, CircuitBreakers, OutgoingMessage, Providers } from '../ports/provider.ts';
import type { DeliveryJob, DeliveryQueue } from '../ports/queue.ts';
import type { Transact } from '../ports/transact.ts';
import type * as DeliveryStore from '../adapters/postgres/delivery-store.ts';
import type { AttemptRecord, ClaimedNotification } from '../adapters/postgres/delivery-store.ts';
import type * as IncidentStore from '../adapters/postgres/incident-store.ts';
import type { NewTimelineEvent } from '../adapters/postgres/incident-store.ts';
import type { Summaries } from './notification-enqueue.ts';
import { retryingWrite, type WorkLog } from './write-retry.ts';
import { newId } from './ids.ts';

export interface DeliveryDeps {
  providers: Providers;
  breakers: CircuitBreakers;
  rateLimiter: ChannelRateLimiter;
  transact: Transact;
  clock: Clock;
  backoffMs: readonly number[];
  /** RETRY_AFTER_MAX_SECONDS in ms: the longest a Retry-After may hold a retry back. */
  retryAfterMaxMs?: number;
  delivery: Pick<typeof DeliveryStore, 'claimForSending' | 'recordAttempts' | 'requeueNotifications'>;
  incidents: Pick<typeof IncidentStore, 'appendTimelineMany'>;
  summaries: Summaries;
  queue: DeliveryQueue;
  observe?(channel: Channel, outcome: 'sent' | 'retry' | 'failed' | 'deferred', durationMs: number): void;
  random?: () => number;
  /** How long a failed claim or outcome write is retried before the batch gives up (default 4 min). */
  writeRetryMs?: number;
  logger?: WorkLog;
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

// Below the delivery queues' expireInSeconds (300), so pg-boss never expires a job whose worker is
// still waiting for PostgreSQL to come back; a database that stays away longer than this makes
// the batch fail, and pg-boss retries it (or the sweep finds it).
const WRITE_RETRY_MS = 4 * 60_000;

// Whatever a provider reports is stored bounded: an HTTP error is "HTTP <status>..." and an excerpt
// of EXCERPT_BYTES (SPEC section 4); this also bounds errors that other libraries relay verbatim.
const ERROR_BYTES = EXCERPT_BYTES + 128;

const toMessage = (n: ClaimedNotification): OutgoingMessage => ({
  id: n.id,
  channel: n.channel,
  recipient: n.recipient,
  subject: n.subject,
  content: n.content,
  content_type: n.content_type,
  metadata: n.metadata,
  incident_id: n.incident_id,
  created_at: n.created_at,
  // The claim numbered this attempt: two workers holding one notification (a lapsed heartbeat)
  // send different numbers, and each request the receiver sees is recorded under its own.
  attempt: n.attempt_count,
});

async function attempt(deps: DeliveryDeps, notification: ClaimedNotification) {
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
  if (!('open' in result) && !result.ok) result = { ...result, error: sanitizeExcerpt(result.error, ERROR_BYTES) };
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
async function attemptWithinRateLimit(deps: DeliveryDeps, channel: Channel, claimed: ClaimedNotification[], window: { used: number; ms_left: number } | null) {
  const inFlight: ReturnType<typeof attempt>[] = [];
  let waiting = claimed;
  let retryInMs = 0;
  const waitUntil = Date.now() + RATE_LIMIT_WAIT_MS;
  // The claim counted the batch in the window already: its grant needs no round trip of its own.
  let counted = window;
  for (;;) {
    if (deps.stopping?.aborted) break;
    let grant: Awaited<ReturnType<ChannelRateLimiter['acquire']>>;
    try {
      grant = counted ? deps.rateLimiter.granted(waiting.length, counted) : await deps.rateLimiter.acquire(channel, waiting.length);
      counted = null;
    } catch {
      // The limiter lives in PostgreSQL. What is not granted goes back to the queue through the
      // same (retried) write as the outcomes, rather than failing the batch, which would deliver
      // what is already out again.
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

/** Everything one batch writes once its deliveries are done. */
interface BatchOutcome {
  records: AttemptRecord[];
  /** Retry jobs, each replacing its notification's current job. */
  retryJobs: DeliveryJob[];
  /** Notifications handed back without an attempt (rate limit, open breaker), with their new jobs. */
  requeued: { notification_id: string; attempt: number; job: DeliveryJob }[];
  deadLettered: string[];
  events: (NewTimelineEvent & { notification_id: string })[];
  incidentOf: Map<string, string>;
}

/**
 * Delivers one batch of jobs of a channel and records every outcome (SPEC section 4).
 *
 * Each request a receiver sees is one attempt: once anything is delivered, nothing makes the batch
 * be delivered again short of a crash. Writes that fail (a lost connection, a restarting server, a
 * deadlock) are retried with backoff (retryingWrite); a value the database refuses is written again
 * without the receiver's text. The claim numbered every attempt, and every write is guarded by that
 * number (see recordAttempts), so a retried write that had in fact committed changes nothing, and a
 * worker whose job was taken over records its attempt but cannot overwrite the new holder's outcome.
 */
async function deliverJobs(deps: DeliveryDeps, channel: Channel, jobs: ClaimedJob[]): Promise<void> {
  const budgetMs = deps.writeRetryMs ?? WRITE_RETRY_MS;
  // The claim moves the notifications of these jobs to sending (see claimForSending); a job that
  // is no longer its notification's current one (cancelled, or replaced by a retry) claims nothing.
  const { claimed, window } = await retryingWrite({ budgetMs, logger: deps.logger, what: 'claiming a batch', context: { channel, jobs: jobs.length } }, () =>
    deps.transact.single((tx) => deps.delivery.claimForSending(tx, channel, jobs)),
  );
  if (claimed.length === 0) return;

  const { outcomes, waiting, retryInMs } = await attemptWithinRateLimit(deps, channel, claimed, window);
  const batch = decideBatch(deps, channel, claimed, outcomes, waiting, retryInMs);
  const context = { channel, notifications: claimed.length };
  try {
    await retryingWrite({ budgetMs, logger: deps.logger, what: 'recording a batch', context }, () => writeBatch(deps, channel, batch));
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    // Sanitizing makes this unreachable for anything a receiver can send; should a text still be
    // refused, the outcomes are kept and the texts replaced, rather than the batch delivered again.
    await retryingWrite({ budgetMs, logger: deps.logger, what: 'recording a batch without answer texts', context }, () =>
      writeBatch(deps, channel, withoutAnswerTexts(batch)),
    );
  }
}

function decideBatch(
  deps: DeliveryDeps,
  channel: Channel,
  claimed: ClaimedNotification[],
  outcomes: Awaited<ReturnType<typeof attempt>>[],
  waiting: ClaimedNotification[],
  retryInMs: number,
): BatchOutcome {
  const now = deps.clock.now();
  const job = (n: ClaimedNotification, delayMs: number): DeliveryJob => ({
    id: newId(),
    channel,
    notification_id: n.id,
    priority: n.priority,
    start_after: new Date(now.getTime() + delayMs),
  });
  // What the limit did not grant in time goes back to the queue for its next window.
  const deferred = waiting.map((notification) => ({ notification, delay_ms: retryInMs }));
  const batch: BatchOutcome = { records: [], retryJobs: [], requeued: [], deadLettered: [], events: [], incidentOf: new Map() };
  for (const n of claimed) if (n.incident_id) batch.incidentOf.set(n.id, n.incident_id);

  for (const { notification: n, result, duration_ms } of outcomes) {
    if ('open' in result) {
      deferred.push({ notification: n, delay_ms: result.retry_in_ms });
      deps.observe?.(channel, 'deferred', 0);
      continue;
    }
    const decision = decideAfterAttempt(result, n.retry_count + 1, n.max_retries, deps.backoffMs, deps.random, deps.retryAfterMaxMs);
    deps.observe?.(channel, decision.kind, duration_ms);
    const error = result.ok ? null : result.error;
    const base = {
      notification_id: n.id,
      attempt: { attempt: n.attempt_count, at: now, outcome: decision.kind, status_code: result.status_code ?? null, error, duration_ms },
    };
    if (decision.kind === 'sent') {
      batch.records.push({ ...base, status: 'sent', last_error: null, sent_at: now });
    } else if (decision.kind === 'retry') {
      const retry = job(n, decision.delay_ms);
      batch.retryJobs.push(retry);
      batch.records.push({ ...base, status: 'queued', job_id: retry.id, last_error: error, sent_at: null });
    } else {
      batch.records.push({ ...base, status: 'failed', last_error: error, sent_at: null });
      batch.deadLettered.push(n.id);
    }
    if (n.incident_id && decision.kind !== 'retry') {
      batch.events.push({
        notification_id: n.id,
        incident_id: n.incident_id,
        type: decision.kind === 'sent' ? 'notification.sent' : 'notification.failed',
        actor: 'tocsin',
        data: { notification_id: n.id, channel, recipient: n.recipient, attempts: n.attempt_count, ...(error === null ? {} : { error }) },
      });
    }
  }
  batch.requeued = deferred.map(({ notification: n, delay_ms }) => ({ notification_id: n.id, attempt: n.attempt_count, job: job(n, Math.max(delay_ms, 50)) }));
  return batch;
}

/**
 * One batch's outcomes in one transaction: the attempts and new statuses first, then (for the
 * notifications whose status this write did change, and only those) the retry jobs, dead letters,
 * summaries and timeline entries. Run again after a commit whose acknowledgement was lost, it
 * changes nothing.
 */
async function writeBatch(deps: DeliveryDeps, channel: Channel, batch: BatchOutcome): Promise<void> {
  const { records, requeued } = batch;
  const linked = records.some((r) => batch.incidentOf.has(r.notification_id));
  if (requeued.length === 0 && batch.retryJobs.length === 0 && batch.deadLettered.length === 0 && !linked) {
    // The common case (every notification of the batch sent, none linked to an incident) is one
    // statement, atomic by itself, and no more round trips than before it was guarded.
    await deps.transact.single((tx) => deps.delivery.recordAttempts(tx, records));
    return;
  }
  await deps.transact(async (tx) => {
    const applied = new Set(records.length > 0 ? await deps.delivery.recordAttempts(tx, records) : []);
    const handedBack = new Set(
      requeued.length > 0 ? await deps.delivery.requeueNotifications(tx, requeued.map(({ job, ...item }) => ({ ...item, job_id: job.id }))) : [],
    );
    const newJobs = [
      ...batch.retryJobs.filter((job) => applied.has(job.notification_id)),
      ...requeued.filter((item) => handedBack.has(item.notification_id)).map((item) => item.job),
    ];
    if (newJobs.length > 0) await deps.queue.enqueue(tx, newJobs);
    const dead = batch.deadLettered.filter((id) => applied.has(id));
    if (dead.length > 0) await deps.queue.deadLetter(tx, channel, dead);
    // A hand-back leaves the notification pending, so only recorded outcomes move a summary.
    const incidents = [...new Set([...applied].flatMap((id) => batch.incidentOf.get(id) ?? []))];
    // An incident deleted while its notification was out takes its timeline with it: the outcome
    // is recorded on the notification, and no entry is written for a timeline that is gone (the
    // foreign key would refuse it, and with it every outcome of the batch).
    const present = new Set(await deps.summaries.refresh(tx, incidents));
    const events = batch.events
      .filter((event) => applied.has(event.notification_id) && present.has(event.incident_id))
      .map(({ notification_id: _, ...event }) => event);
    if (events.length > 0) await deps.incidents.appendTimelineMany(tx, events);
  });
}

const NOT_STORED = '(the answer could not be stored)';

function withoutAnswerTexts(batch: BatchOutcome): BatchOutcome {
  const strip = (text: string | null) => {
    if (text === null) return null;
    const status = /^HTTP \d{3}/.exec(text)?.[0];
    return status ? `${status}: ${NOT_STORED}` : NOT_STORED;
  };
  return {
    ...batch,
    records: batch.records.map((r) => ({ ...r, last_error: strip(r.last_error), attempt: { ...r.attempt, error: strip(r.attempt.error) } })),
    events: batch.events.map((e) => ({ ...e, data: { ...e.data, ...('error' in e.data ? { error: NOT_STORED } : {}) } })),
  };
}

/** The delivery worker's use case (SPEC section 4): one batch of one channel's jobs. */
export function makeDelivery(deps: DeliveryDeps) {
  return {
    deliverJobs: (channel: Channel, jobs: ClaimedJob[]) => deliverJobs(deps, channel, jobs),
  };
}

export type Delivery = ReturnType<typeof makeDelivery>;

import { randomUUID } from 'node:crypto';
import { DomainError } from '../domain/errors.ts';
import {
  defaultMaxRetries,
  initialStatus,
  isCancellable,
  isRetryable,
  type Channel,
  type Notification,
  type Priority,
} from '../domain/notification.ts';
import { releaseTime } from '../domain/quiet-hours.ts';
import { localeChain, renderTemplate, type ContentType } from '../domain/template.ts';
import type { User } from '../domain/user.ts';
import type { Clock } from '../ports/clock.ts';
import type { NewNotificationRow, Stores, Transact } from '../ports/unit-of-work.ts';
import { unknownReferences } from './references.ts';

export interface NotificationContext {
  transact: Transact;
  clock: Clock;
  actor: string;
}

export interface NotificationInput {
  channel: Channel;
  /** Exactly one of recipient and user_id (the HTTP adapter checks it). */
  recipient?: string;
  user_id?: string;
  subject?: string | null;
  /** Exactly one of content and template. */
  content?: string;
  template?: { slug: string; locale?: string; variables?: Record<string, unknown> };
  priority?: Priority;
  scheduled_at?: string | null;
  max_retries?: number;
  incident_id?: string | null;
  metadata?: Record<string, unknown>;
}

/** What a notification's recipient and content come to once its user and template are looked up. */
interface Resolved {
  recipient: string;
  user_id: string | null;
  subject: string | null;
  content: string;
  content_type: ContentType;
  scheduled_at: Date | null;
}

type Problem = { field: string; message: string };

/**
 * SPEC sections 4 and 5: a notification may name a user instead of a recipient (their contact
 * method for the channel is used, if they have not turned the channel off) and a template
 * instead of content (rendered now, so delivery sends what was accepted). Sent to a user, a
 * normal or low priority notification waits for the end of their quiet hours. Every problem of
 * every input is reported at once, each with its field path (`fieldOf(index)` is the input's).
 */
async function resolveInputs(stores: Stores, inputs: NotificationInput[], now: Date, fieldOf: (index: number) => string): Promise<Resolved[]> {
  const userIds = [...new Set(inputs.flatMap((input) => (input.user_id ? [input.user_id] : [])))];
  const users = new Map<string, User>((await stores.users.getMany(userIds)).map((user) => [user.id, user]));
  const templates = new Map<string, Awaited<ReturnType<Stores['templates']['findLatest']>>>();
  // SPEC section 2: an incident_id must name an incident (the foreign key would say so too, but
  // without the field's path in a batch).
  const problems: Problem[] = await unknownReferences(stores, inputs.flatMap((input, index) =>
    input.incident_id ? [{ field: `${fieldOf(index)}.incident_id`, kind: 'incident' as const, id: input.incident_id }] : []));
  const missing: Problem[] = [];
  const resolved: Resolved[] = [];

  for (const [index, input] of inputs.entries()) {
    const at = fieldOf(index);
    let recipient = input.recipient ?? '';
    let user: User | undefined;
    if (input.user_id !== undefined) {
      user = users.get(input.user_id);
      const method = user?.contact_methods.find((m) => m.type === input.channel);
      if (!user) problems.push({ field: `${at}.user_id`, message: 'refers to no user' });
      else if (!user.preferences.channels[input.channel]) problems.push({ field: `${at}.user_id`, message: `the user has turned ${input.channel} off` });
      else if (!method) problems.push({ field: `${at}.user_id`, message: `the user has no ${input.channel} contact method` });
      else recipient = method.address;
      if (!method || !user?.preferences.channels[input.channel]) continue;
    }

    let rendered: Pick<Resolved, 'subject' | 'content' | 'content_type'> = { subject: input.subject ?? null, content: input.content ?? '', content_type: 'text' };
    if (input.template) {
      const { slug, locale, variables = {} } = input.template;
      const chain = localeChain(locale ?? user?.locale);
      const key = `${slug}|${input.channel}|${chain.join(',')}`;
      if (!templates.has(key)) templates.set(key, await stores.templates.findLatest(slug, input.channel, chain));
      const template = templates.get(key);
      if (!template) {
        problems.push({ field: `${at}.template.slug`, message: `there is no template ${slug} for ${input.channel} (locales tried: ${chain.join(', ')})` });
        continue;
      }
      try {
        rendered = renderTemplate(template, variables, { field: `${at}.template.variables` });
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        (error.code === 'TEMPLATE_VARIABLE_MISSING' ? missing : problems).push(...(error.details as Problem[]));
        continue;
      }
    }

    let scheduledAt = input.scheduled_at ? new Date(input.scheduled_at) : null;
    if (user && (input.priority ?? 'normal') !== 'high') {
      const due = scheduledAt && scheduledAt.getTime() > now.getTime() ? scheduledAt : now;
      const release = releaseTime(due, false, user.timezone, user.preferences.quiet_hours);
      if (release.getTime() !== due.getTime()) scheduledAt = release;
    }
    resolved.push({ recipient, user_id: user?.id ?? null, ...rendered, scheduled_at: scheduledAt });
  }

  if (problems.length > 0) {
    throw new DomainError('VALIDATION_ERROR', `invalid request: ${problems.map((d) => `${d.field} ${d.message}`).join('; ')}`, problems);
  }
  if (missing.length > 0) {
    throw new DomainError('TEMPLATE_VARIABLE_MISSING', `the template uses variables that were not given: ${missing.map((d) => d.field).join(', ')}`, missing);
  }
  return resolved;
}

function toRow(input: NotificationInput, resolved: Resolved, now: Date, batchId: string | null): NewNotificationRow {
  const priority = input.priority ?? 'normal';
  const scheduledAt = resolved.scheduled_at;
  return {
    id: randomUUID(),
    channel: input.channel,
    recipient: resolved.recipient,
    user_id: resolved.user_id,
    subject: resolved.subject,
    content: resolved.content,
    content_type: resolved.content_type,
    priority,
    status: initialStatus(scheduledAt, now),
    scheduled_at: scheduledAt,
    max_retries: input.max_retries ?? defaultMaxRetries[priority],
    batch_id: batchId,
    incident_id: input.incident_id ?? null,
    metadata: input.metadata ?? {},
    job_id: randomUUID(),
  };
}

/**
 * Writes notifications and their jobs in one transaction (SPEC section 4): both commit or
 * neither does, so an accepted notification always has a job and a job always has its row.
 * A batch is one multi-row insert and one bulk job insert, whatever its size.
 */
export async function enqueueNotifications(stores: Stores, rows: NewNotificationRow[]): Promise<Notification[]> {
  const created = await stores.notifications.insertMany(rows);
  await stores.jobs.enqueue(
    rows.map((row) => ({
      id: row.job_id,
      channel: row.channel,
      notification_id: row.id,
      priority: row.priority,
      start_after: row.status === 'scheduled' ? row.scheduled_at : null,
    })),
  );
  const linked = rows.filter((row) => row.incident_id !== null).map((row) => row.incident_id!);
  if (linked.length > 0) await stores.notifications.refreshIncidentSummaries([...new Set(linked)]);
  return created;
}

export async function createNotification(ctx: NotificationContext, input: NotificationInput): Promise<Notification> {
  return ctx.transact(async (stores) => {
    const now = ctx.clock.now();
    const [resolved] = await resolveInputs(stores, [input], now, () => 'body');
    const [created] = await enqueueNotifications(stores, [toRow(input, resolved!, now, null)]);
    return created!;
  });
}

export async function createBatch(ctx: NotificationContext, inputs: NotificationInput[]) {
  const batchId = randomUUID();
  const now = ctx.clock.now();
  return ctx.transact(async (stores) => {
    const resolved = await resolveInputs(stores, inputs, now, (index) => `body.notifications.${index}`);
    const created = await enqueueNotifications(stores, inputs.map((input, index) => toRow(input, resolved[index]!, now, batchId)));
    return { batch_id: batchId, count: created.length, ids: created.map((n) => n.id) };
  });
}

/**
 * Locks a notification and, first, its incident: the order paging takes them in (an acknowledge
 * locks the incident, then the pages it holds back), so the two never wait for each other
 * (SPEC section 4: concurrent writes that touch one incident never deadlock). An incident_id only
 * ever changes to null (the incident deleted), which needs the incident's lock.
 */
async function lockInOrder(stores: Stores, id: string): Promise<Notification | undefined> {
  const incidentId = await stores.notifications.incidentOf(id);
  if (incidentId) await stores.incidents.lock(incidentId);
  return stores.notifications.lock(id);
}

/**
 * DELETE /v1/notifications/:id. The row lock decides races with a worker: whoever changes the
 * status first wins, and a worker only sends what it moved from queued to sending itself.
 */
export async function cancelNotification(ctx: NotificationContext, id: string): Promise<Notification> {
  return ctx.transact(async (stores) => {
    const current = await lockInOrder(stores, id);
    if (!current) throw new DomainError('NOTIFICATION_NOT_FOUND', `notification ${id} does not exist`);
    if (!isCancellable(current.status)) {
      throw new DomainError('NOT_CANCELLABLE', `notification is ${current.status}; only scheduled or queued ones can be cancelled`, {
        status: current.status,
      });
    }
    if (current.job_id) await stores.jobs.cancel(current.channel, current.job_id);
    const cancelled = await stores.notifications.update(id, { status: 'cancelled', job_id: null });
    if (current.incident_id) await stores.notifications.refreshIncidentSummaries([current.incident_id]);
    return cancelled;
  });
}

/** POST /v1/notifications/:id/retry: a failed notification goes back to the queue with fresh retries. */
export async function retryNotification(ctx: NotificationContext, id: string): Promise<Notification> {
  return ctx.transact(async (stores) => {
    const current = await lockInOrder(stores, id);
    if (!current) throw new DomainError('NOTIFICATION_NOT_FOUND', `notification ${id} does not exist`);
    if (!isRetryable(current.status)) {
      throw new DomainError('NOT_RETRYABLE', `notification is ${current.status}; only failed ones can be retried`, {
        status: current.status,
      });
    }
    const jobId = randomUUID();
    await stores.jobs.removeDeadLetter(current.channel, id);
    await stores.jobs.enqueue([{ id: jobId, channel: current.channel, notification_id: id, priority: current.priority, start_after: null }]);
    const requeued = await stores.notifications.update(id, { status: 'queued', job_id: jobId, retry_count: 0, last_error: null });
    if (current.incident_id) await stores.notifications.refreshIncidentSummaries([current.incident_id]);
    return requeued;
  });
}

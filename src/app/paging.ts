import { randomUUID } from 'node:crypto';
import { breaksQuietHours, nextStep, PAGE_EVENT, pagePriority, type EscalationPolicy, type Step, type Team } from '../domain/escalation.ts';
import type { Incident } from '../domain/incident.ts';
import { defaultMaxRetries, initialStatus, type Channel } from '../domain/notification.ts';
import { releaseTime } from '../domain/quiet-hours.ts';
import { localeChain, renderTemplate, type Rendered } from '../domain/template.ts';
import type { User } from '../domain/user.ts';
import type { Clock } from '../ports/clock.ts';
import type { NewNotificationRow, Stores, Transact } from '../ports/unit-of-work.ts';
import { enqueueNotifications } from './notification-use-cases.ts';

// SPEC section 5: the incident lifecycle drives paging. Everything here runs inside the caller's
// transaction (createIncident, updateIncident, or the escalation job), so an incident change and
// the pages, jobs and timeline entries it causes commit or vanish together.

export interface PagingContext {
  clock: Clock;
  actor: string;
  /**
   * Why a channel cannot be used on this server (its provider is not configured), or null. A
   * contact method on such a channel is skipped, and the skip is on the timeline; without this
   * every contact method is paged, and an unconfigured channel fails at delivery.
   */
  channelProblem?: (channel: Channel) => string | null;
}

/** Timeline entries of paging are written by Tocsin itself. */
const SYSTEM_ACTOR = 'tocsin';

export type Outcome = 'acknowledged' | 'resolved';

type StepKey = { incident_id: string; run: number; round: number; level: number };

function incidentVariables(incident: Incident) {
  return {
    id: incident.id,
    title: incident.title,
    description: incident.description ?? '',
    severity: incident.severity,
    status: incident.status,
    source: incident.source,
    team_id: incident.team_id,
    created_at: incident.created_at.toISOString(),
  };
}

/**
 * What the template renders, or (when the stored template no longer renders with the variables
 * paging gives, say a customised version that names one that does not exist) a plain message:
 * a page must go out whatever happened to its template. The problem is kept for the timeline.
 */
async function render(
  stores: Stores,
  cache: Map<string, Awaited<ReturnType<Stores['templates']['findLatest']>>>,
  slug: string,
  channel: Channel,
  locale: string,
  variables: Record<string, unknown> & { incident: ReturnType<typeof incidentVariables> },
): Promise<{ rendered: Rendered; template: { slug: string; locale: string; version: number } | null; problem?: string }> {
  const key = `${slug}|${channel}|${locale}`;
  if (!cache.has(key)) cache.set(key, await stores.templates.findLatest(slug, channel, localeChain(locale)));
  const template = cache.get(key);
  let problem = `no template ${slug} for ${channel}`;
  if (template) {
    try {
      return { rendered: renderTemplate(template, variables), template: { slug, locale: template.locale, version: template.version } };
    } catch (error) {
      problem = (error as Error).message;
    }
  }
  const { incident } = variables;
  const what = slug === PAGE_EVENT ? 'you are paged' : `${slug.replace(/^incident\./, '')} by ${String(variables.actor)}`;
  return {
    rendered: { subject: `${incident.severity} ${incident.title}`, content: `${incident.severity} ${incident.title}: ${what}. Incident ${incident.id}`, content_type: 'text' },
    template: null,
    problem,
  };
}

function notificationRow(
  incident: Incident,
  user: Pick<User, 'id' | 'timezone' | 'preferences'>,
  channel: Channel,
  recipient: string,
  rendered: Rendered,
  at: Date,
  metadata: Record<string, unknown>,
): NewNotificationRow {
  const priority = pagePriority(incident.severity);
  // Quiet hours hold back everything but a P1 until they end (SPEC section 5).
  const release = releaseTime(at, breaksQuietHours(incident.severity), user.timezone, user.preferences.quiet_hours);
  const scheduledAt = release.getTime() > at.getTime() ? release : null;
  return {
    id: randomUUID(),
    channel,
    recipient,
    subject: rendered.subject,
    content: rendered.content,
    content_type: rendered.content_type,
    priority,
    status: initialStatus(scheduledAt, at),
    scheduled_at: scheduledAt,
    max_retries: defaultMaxRetries[priority],
    batch_id: null,
    incident_id: incident.id,
    metadata,
    job_id: randomUUID(),
    user_id: user.id,
  };
}

/** Pages one level: a notification per contact method its users allow, then schedules the next step. */
async function pageLevel(
  stores: Stores,
  ctx: PagingContext,
  incident: Incident,
  policy: EscalationPolicy,
  team: Team | undefined,
  run: number,
  step: Step,
  now: Date,
): Promise<void> {
  const key: StepKey = { incident_id: incident.id, run, round: step.round, level: step.level };
  const userIds = policy.levels[step.level]!.user_ids;
  const users = new Map((await stores.users.getMany(userIds)).map((u) => [u.id, u]));
  const cache = new Map();
  const rows: NewNotificationRow[] = [];
  const report: Record<string, unknown>[] = [];

  for (const userId of userIds) {
    const user = users.get(userId);
    if (!user) {
      report.push({ user_id: userId, skipped: 'the user no longer exists' });
      continue;
    }
    const sent: Record<string, unknown>[] = [];
    const skipped: { channel: Channel; reason: string }[] = [];
    for (const method of user.contact_methods) {
      if (!user.preferences.channels[method.type]) {
        skipped.push({ channel: method.type, reason: 'the user turned this channel off' });
        continue;
      }
      const unavailable = ctx.channelProblem?.(method.type);
      if (unavailable) {
        skipped.push({ channel: method.type, reason: unavailable });
        continue;
      }
      const variables = {
        incident: incidentVariables(incident),
        user: { id: user.id, name: user.name },
        team: team ? { id: team.id, name: team.name } : null,
        escalation: { level: step.level, round: step.round },
      };
      const { rendered, template, problem } = await render(stores, cache, PAGE_EVENT, method.type, user.locale, variables);
      const row = notificationRow(incident, user, method.type, method.address, rendered, now, {
        event: PAGE_EVENT,
        escalation: { run, round: step.round, level: step.level },
        template,
      });
      rows.push(row);
      sent.push({
        notification_id: row.id,
        channel: method.type,
        ...(row.scheduled_at ? { held_until: row.scheduled_at.toISOString() } : {}),
        ...(problem ? { template_problem: problem } : {}),
      });
    }
    report.push({ user_id: user.id, name: user.name, notifications: sent, ...(skipped.length > 0 ? { skipped } : {}) });
  }

  if (rows.length > 0) await enqueueNotifications(stores, rows);
  await stores.escalations.markPaged(key, now);
  await stores.timeline.append({
    incident_id: incident.id,
    type: 'escalation.paged',
    actor: SYSTEM_ACTOR,
    data: { policy_id: policy.id, run, round: step.round, level: step.level, notifications: rows.length, users: report },
  });

  const next = nextStep(policy, step);
  if (!next) {
    await stores.timeline.append({
      incident_id: incident.id,
      type: 'escalation.exhausted',
      actor: SYSTEM_ACTOR,
      data: { policy_id: policy.id, run, rounds: policy.repeat + 1, message: 'every level of the policy has been paged; nobody is left to escalate to' },
    });
    return;
  }
  const due = new Date(now.getTime() + next.delay_seconds * 1000);
  const jobId = randomUUID();
  const scheduled = await stores.escalations.insert({
    incident_id: incident.id,
    run,
    round: next.step.round,
    level: next.step.level,
    policy_id: policy.id,
    status: 'scheduled',
    due_at: due,
    paged_at: null,
    job_id: jobId,
  });
  if (!scheduled) return;
  await stores.escalationJobs.schedule({ id: jobId, incident_id: incident.id, run, round: next.step.round, level: next.step.level, start_after: due });
  await stores.timeline.append({
    incident_id: incident.id,
    type: 'escalation.scheduled',
    actor: SYSTEM_ACTOR,
    data: { run, round: next.step.round, level: next.step.level, due_at: due.toISOString(), user_ids: policy.levels[next.step.level]!.user_ids },
  });
}

/**
 * A new incident of a team with a policy (or an open incident moved to such a team) pages level
 * 0 at once. Returns whether anything was paged. An incident of no team, an unknown team or a
 * team without a policy pages nobody.
 */
export async function startPaging(stores: Stores, ctx: PagingContext, incident: Incident): Promise<boolean> {
  if (incident.status !== 'open' || incident.team_id === null) return false;
  const team = await stores.teams.get(incident.team_id);
  if (!team?.escalation_policy_id) return false;
  const policy = await stores.policies.get(team.escalation_policy_id);
  if (!policy || policy.levels.length === 0) return false;
  const now = ctx.clock.now();
  const run = await stores.escalations.nextRun(incident.id);
  await stores.escalations.insert({ incident_id: incident.id, run, round: 0, level: 0, policy_id: policy.id, status: 'scheduled', due_at: now, paged_at: null, job_id: null });
  await pageLevel(stores, ctx, incident, policy, team, run, { round: 0, level: 0 }, now);
  return true;
}

/**
 * Acknowledging, resolving or moving an incident to another team stops its escalation: the
 * scheduled steps and their jobs are cancelled (the worker would also see the status and stop),
 * pages still held back by quiet hours are cancelled, and on acknowledge or resolve everyone
 * already paged is told who did it. Returns whether anything changed.
 */
export async function stopPaging(
  stores: Stores,
  ctx: PagingContext,
  incident: Incident,
  reason: Outcome | 'reassigned',
  note?: string,
): Promise<boolean> {
  const cancelled = await stores.escalations.cancelScheduled(incident.id);
  for (const step of cancelled) if (step.job_id) await stores.escalationJobs.cancel(step.job_id);
  const held = await stores.escalations.heldPages(incident.id);
  for (const page of held) {
    if (page.job_id) await stores.jobs.cancel(page.channel, page.job_id);
    await stores.notifications.update(page.id, { status: 'cancelled', job_id: null });
  }
  if (cancelled.length > 0 || held.length > 0) {
    await stores.timeline.append({
      incident_id: incident.id,
      type: 'escalation.stopped',
      actor: ctx.actor,
      data: {
        reason,
        cancelled_steps: cancelled.map((s) => ({ run: s.run, round: s.round, level: s.level, due_at: s.due_at.toISOString() })),
        held_pages_cancelled: held.map((p) => p.id),
      },
    });
  }
  const recipients = reason === 'reassigned' ? [] : await stores.escalations.pagedRecipients(incident.id);
  if (recipients.length === 0) {
    if (held.length > 0) await stores.notifications.refreshIncidentSummaries([incident.id]);
    return cancelled.length > 0 || held.length > 0;
  }

  const slug = `incident.${reason}`;
  const now = ctx.clock.now();
  const users = new Map((await stores.users.getMany(recipients.map((r) => r.user_id))).map((u) => [u.id, u]));
  const team = incident.team_id ? await stores.teams.get(incident.team_id) : undefined;
  const cache = new Map();
  const rows: NewNotificationRow[] = [];
  for (const recipient of recipients) {
    // The paged person is told on the channel and at the address they were paged on, even if
    // their contact methods changed since.
    const person = users.get(recipient.user_id);
    if (!person) continue;
    const variables = {
      incident: incidentVariables(incident),
      user: { id: person.id, name: person.name },
      team: team ? { id: team.id, name: team.name } : null,
      actor: ctx.actor,
      note: note ?? '',
    };
    const { rendered, template } = await render(stores, cache, slug, recipient.channel, person.locale, variables);
    rows.push(notificationRow(incident, person, recipient.channel, recipient.recipient, rendered, now, { event: slug, template }));
  }
  if (rows.length > 0) await enqueueNotifications(stores, rows);
  await stores.timeline.append({
    incident_id: incident.id,
    type: 'escalation.outcome_notified',
    actor: ctx.actor,
    data: {
      status: reason,
      by: ctx.actor,
      notifications: rows.map((r) => ({ notification_id: r.id, user_id: r.user_id, channel: r.channel })),
    },
  });
  return true;
}

export interface EscalationDeps {
  transact: Transact;
  clock: Clock;
  channelProblem?: (channel: Channel) => string | null;
}

/**
 * The escalation job: pages its step if, under the incident's row lock, the incident is still
 * open and the step is still scheduled under this very job. A duplicate, stale or retried job
 * (a worker restarted mid-step) finds the step paged or cancelled and does nothing, so each step
 * is paged exactly once.
 */
export async function runEscalationStep(deps: EscalationDeps, job: StepKey & { job_id: string }): Promise<void> {
  await deps.transact(async (stores) => {
    const incident = await stores.incidents.lock(job.incident_id);
    if (!incident) return;
    const step = await stores.escalations.lock(job);
    if (!step || step.status !== 'scheduled' || step.job_id !== job.job_id) return;
    const policy = await stores.policies.get(step.policy_id);
    if (incident.status !== 'open' || !policy?.levels[step.level]) {
      await stores.escalations.cancelScheduled(incident.id);
      return;
    }
    const team = incident.team_id ? await stores.teams.get(incident.team_id) : undefined;
    const ctx: PagingContext = { clock: deps.clock, actor: SYSTEM_ACTOR, ...(deps.channelProblem ? { channelProblem: deps.channelProblem } : {}) };
    await pageLevel(stores, ctx, incident, policy, team, step.run, { round: step.round, level: step.level }, deps.clock.now());
  });
}

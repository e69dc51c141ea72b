import { nextStep, PAGE_EVENT, type EscalationPolicy, type Step, type Team } from '../domain/escalation.ts';
import type { Incident } from '../domain/incident.ts';
import type { Channel } from '../domain/notification.ts';
import type { Clock } from '../ports/clock.ts';
import type { DeliveryQueue, EscalationQueue } from '../ports/queue.ts';
import type { Tx } from '../ports/transact.ts';
import type * as EscalationStore from '../adapters/postgres/escalation-store.ts';
import type * as PolicyStore from '../adapters/postgres/escalation-policy-store.ts';
import type * as IncidentStore from '../adapters/postgres/incident-store.ts';
import type * as NotificationStore from '../adapters/postgres/notification-store.ts';
import type { NewNotificationRow } from '../adapters/postgres/notification-store.ts';
import type { NewTimelineEvent } from '../adapters/postgres/incident-store.ts';
import type * as TeamStore from '../adapters/postgres/team-store.ts';
import type * as TemplateStore from '../adapters/postgres/template-store.ts';
import type * as UserStore from '../adapters/postgres/user-store.ts';
import type { Enqueue, Summaries } from './notification-enqueue.ts';
import type { ScheduleUseCases } from './schedule-use-cases.ts';
import { incidentVariables, makePageRenderer, pageNotification, withPageActions } from './page-content.ts';
import { newId } from './ids.ts';

// SPEC section 5: the incident lifecycle drives paging. Everything here runs inside the caller's
// transaction (an incident created or changed, or the escalation job), so an incident change and
// the pages, jobs and timeline entries it causes commit or vanish together.

/** Timeline entries of paging are written by Tocsin itself. */
export const SYSTEM_ACTOR = 'tocsin';

export type Outcome = 'acknowledged' | 'resolved';

export function makePaging(deps: {
  clock: Clock;
  /**
   * Why a channel cannot be used on this server (its provider is not configured), or null. A
   * contact method on such a channel is skipped, and the skip is on the timeline.
   */
  channelProblem: (channel: Channel) => string | null;
  users: Pick<typeof UserStore, 'getUsers'>;
  teams: Pick<typeof TeamStore, 'getTeam'>;
  policies: Pick<typeof PolicyStore, 'getTeamAndPolicy'>;
  templates: Pick<typeof TemplateStore, 'findLatestTemplate'>;
  escalations: typeof EscalationStore;
  incidents: Pick<typeof IncidentStore, 'appendTimeline' | 'appendTimelineMany'>;
  notifications: Pick<typeof NotificationStore, 'updateNotification'>;
  enqueue: Enqueue;
  summaries: Summaries;
  deliveryQueue: DeliveryQueue;
  escalationQueue: EscalationQueue;
  /** Who is on call in the schedules a level names, at the moment it is paged (SPEC sections 5 and 11). */
  onCall: Pick<ScheduleUseCases, 'whoIsOnCall'>;
  /** SPEC section 10: the signed link a page carries, PUBLIC_URL/a/<token>. */
  actionLink: (userId: string, incidentId: string, at: Date) => Promise<string>;
  /** SPEC section 10: the code an SMS page ends with, unique among the person's open incidents. */
  replyCodeFor: (tx: Tx, userId: string, incidentId: string) => Promise<string>;
}) {
  const { escalations, incidents } = deps;

  /**
   * The people a level pages, once each, and how each was found: named by the level, or on call
   * (looked up now, so an override or a schedule edit made before this moment counts, and pages
   * already sent are left as they were).
   */
  async function levelTargets(tx: Tx, policy: EscalationPolicy, step: Step, now: Date) {
    const level = policy.levels[step.level]!;
    const onCall = level.schedule_ids.length > 0 ? await deps.onCall.whoIsOnCall(tx, level.schedule_ids, now) : [];
    const via = new Map<string, { direct: boolean; schedule_ids: string[] }>();
    for (const id of level.user_ids) via.set(id, { direct: true, schedule_ids: [] });
    for (const { schedule_id, user_ids } of onCall) {
      for (const id of user_ids) {
        const found = via.get(id) ?? { direct: false, schedule_ids: [] };
        found.schedule_ids.push(schedule_id);
        via.set(id, found);
      }
    }
    return { via, schedules: onCall };
  }

  /**
   * Pages one level: a notification per contact method its users allow, then schedules the next
   * step. The step's row already says it was paged (the caller wrote it so in this transaction:
   * one statement fewer than writing it scheduled and then paged).
   */
  async function pageLevel(tx: Tx, incident: Incident, policy: EscalationPolicy, team: Team | undefined, run: number, step: Step, now: Date): Promise<void> {
    const { via, schedules } = await levelTargets(tx, policy, step, now);
    const userIds = [...via.keys()];
    if (userIds.length === 0) return levelEmpty(tx, incident, policy, team, run, step, schedules, now);
    const users = new Map((await deps.users.getUsers(tx, userIds)).map((u) => [u.id, u]));
    const render = makePageRenderer(deps.templates, tx);
    const rows: NewNotificationRow[] = [];
    const report: Record<string, unknown>[] = [];

    for (const userId of userIds) {
      const user = users.get(userId);
      const found = via.get(userId)!;
      const how = found.direct ? { via: 'level' } : { via: 'schedule', schedule_ids: found.schedule_ids };
      if (!user) {
        report.push({ user_id: userId, ...how, skipped: 'the user no longer exists' });
        continue;
      }
      const sent: Record<string, unknown>[] = [];
      const skipped: { channel: Channel; reason: string }[] = [];
      for (const method of user.contact_methods) {
        if (!user.preferences.channels[method.type]) {
          skipped.push({ channel: method.type, reason: 'the user turned this channel off' });
          continue;
        }
        const unavailable = deps.channelProblem(method.type);
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
        const { rendered, template, problem } = await render(PAGE_EVENT, method.type, user.locale, variables);
        // A page goes out even if its link cannot be signed this moment (the secret unreadable).
        const actionUrl = await deps.actionLink(user.id, incident.id, now).catch(() => undefined);
        const replyCode = method.type === 'sms' ? await deps.replyCodeFor(tx, user.id, incident.id) : undefined;
        const content = actionUrl ? withPageActions(rendered, method.type, actionUrl, replyCode) : rendered;
        const row = pageNotification(incident, user, method.type, method.address, content, now, {
          event: PAGE_EVENT,
          escalation: { run, round: step.round, level: step.level },
          template,
          ...(actionUrl ? { action_url: actionUrl } : {}),
        });
        rows.push(row);
        sent.push({
          notification_id: row.id,
          channel: method.type,
          ...(row.scheduled_at ? { held_until: row.scheduled_at.toISOString() } : {}),
          ...(problem ? { template_problem: problem } : {}),
        });
      }
      report.push({ user_id: user.id, name: user.name, ...how, notifications: sent, ...(skipped.length > 0 ? { skipped } : {}) });
    }

    if (rows.length > 0) await deps.enqueue(tx, rows);
    const paged: NewTimelineEvent = {
      incident_id: incident.id,
      type: 'escalation.paged',
      actor: SYSTEM_ACTOR,
      data: {
        policy_id: policy.id, run, round: step.round, level: step.level, notifications: rows.length, users: report,
        ...(schedules.length > 0 ? { schedules: schedules.map((s) => ({ schedule_id: s.schedule_id, on_call: s.user_ids })) } : {}),
      },
    };
    // The page's entry and what comes next are one insert: this runs inside every alert's transaction.
    const next = await scheduleNext(tx, incident, policy, run, step, now);
    await incidents.appendTimelineMany(tx, next ? [paged, next] : [paged]);
  }

  /**
   * SPEC section 5: a level that finds nobody (its schedules have gaps now, and it names no user)
   * is recorded, and the next level is paged at once, not after its delay.
   */
  async function levelEmpty(
    tx: Tx, incident: Incident, policy: EscalationPolicy, team: Team | undefined, run: number, step: Step,
    schedules: { schedule_id: string; user_ids: string[] }[], now: Date,
  ): Promise<void> {
    const next = nextStep(policy, step);
    const empty: NewTimelineEvent = {
      incident_id: incident.id,
      type: 'escalation.level_empty',
      actor: SYSTEM_ACTOR,
      data: {
        policy_id: policy.id, run, round: step.round, level: step.level,
        schedule_ids: policy.levels[step.level]!.schedule_ids,
        message: next ? 'nobody is on call in this level\'s schedules: the next level is paged now' : 'nobody is on call in this level\'s schedules, and no level is left',
      },
    };
    await incidents.appendTimelineMany(tx, next ? [empty] : [empty, exhausted(incident, policy, run)]);
    if (!next) return;
    const inserted = await escalations.insertEscalationStep(tx, {
      incident_id: incident.id, run, round: next.step.round, level: next.step.level, policy_id: policy.id,
      status: 'paged', due_at: now, paged_at: now, job_id: null,
    });
    if (inserted) await pageLevel(tx, incident, policy, team, run, next.step, now);
  }

  /** The timeline entry of a policy with nobody left to page. */
  function exhausted(incident: Incident, policy: EscalationPolicy, run: number): NewTimelineEvent {
    return {
      incident_id: incident.id,
      type: 'escalation.exhausted',
      actor: SYSTEM_ACTOR,
      data: { policy_id: policy.id, run, rounds: policy.repeat + 1, message: 'every level of the policy has been paged; nobody is left to escalate to' },
    };
  }

  /**
   * The step after this one, as a job at its due time; or, after the last, the end of the policy.
   * Returns the timeline entry that says which, for the caller to write (none when that step
   * already existed).
   */
  async function scheduleNext(tx: Tx, incident: Incident, policy: EscalationPolicy, run: number, step: Step, now: Date): Promise<NewTimelineEvent | undefined> {
    const next = nextStep(policy, step);
    if (!next) return exhausted(incident, policy, run);
    const due = new Date(now.getTime() + next.delay_seconds * 1000);
    const jobId = newId();
    const scheduled = await escalations.insertEscalationStep(tx, {
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
    if (!scheduled) return undefined;
    await deps.escalationQueue.schedule(tx, { id: jobId, incident_id: incident.id, run, round: next.step.round, level: next.step.level, start_after: due });
    return {
      incident_id: incident.id,
      type: 'escalation.scheduled',
      actor: SYSTEM_ACTOR,
      data: {
        run, round: next.step.round, level: next.step.level, due_at: due.toISOString(),
        user_ids: policy.levels[next.step.level]!.user_ids, schedule_ids: policy.levels[next.step.level]!.schedule_ids,
      },
    };
  }

  return {
    pageLevel,

    /**
     * A new incident of a team with a policy (or an open incident moved to such a team) pages
     * level 0 at once. Returns whether anything was paged. An incident of no team, or of a team
     * without a policy, pages nobody.
     */
    async start(tx: Tx, incident: Incident, _actor: string): Promise<boolean> {
      if (incident.status !== 'open' || incident.team_id === null) return false;
      const found = await deps.policies.getTeamAndPolicy(tx, incident.team_id);
      if (!found?.policy || found.policy.levels.length === 0) return false;
      const { team, policy } = found;
      const now = deps.clock.now();
      const run = await escalations.startEscalationRun(tx, { incident_id: incident.id, policy_id: policy.id, at: now });
      await pageLevel(tx, incident, policy, team, run, { round: 0, level: 0 }, now);
      return true;
    },

    /**
     * Acknowledging, resolving or moving an incident to another team stops its escalation: the
     * scheduled steps and their jobs are cancelled (the worker would also see the status and
     * stop), pages still held back by quiet hours are cancelled, and on acknowledge or resolve
     * everyone already paged is told who did it. Returns whether anything changed.
     */
    async stop(tx: Tx, incident: Incident, reason: Outcome | 'reassigned', actor: string, note?: string): Promise<boolean> {
      const cancelled = await escalations.cancelScheduledSteps(tx, incident.id);
      for (const step of cancelled) if (step.job_id) await deps.escalationQueue.cancel(tx, step.job_id);
      const held = await escalations.heldPages(tx, incident.id);
      for (const page of held) {
        if (page.job_id) await deps.deliveryQueue.cancel(tx, page.channel, page.job_id);
        await deps.notifications.updateNotification(tx, page.id, { status: 'cancelled', job_id: null });
      }
      if (cancelled.length > 0 || held.length > 0) {
        await incidents.appendTimeline(tx, {
          incident_id: incident.id,
          type: 'escalation.stopped',
          actor,
          data: {
            reason,
            cancelled_steps: cancelled.map((s) => ({ run: s.run, round: s.round, level: s.level, due_at: s.due_at.toISOString() })),
            held_pages_cancelled: held.map((p) => p.id),
          },
        });
      }
      const recipients = reason === 'reassigned' ? [] : await escalations.pagedRecipients(tx, incident.id);
      if (recipients.length === 0) {
        if (held.length > 0) await deps.summaries.refresh(tx, [incident.id]);
        return cancelled.length > 0 || held.length > 0;
      }

      const slug = `incident.${reason}`;
      const now = deps.clock.now();
      // SPEC section 10: a person is named by their name in what the others are told.
      const personId = actor.startsWith('user:') ? actor.slice('user:'.length) : undefined;
      const users = new Map((await deps.users.getUsers(tx, [...recipients.map((r) => r.user_id), ...(personId ? [personId] : [])])).map((u) => [u.id, u]));
      const actorName = personId ? (users.get(personId)?.name ?? actor) : actor;
      const team = incident.team_id ? await deps.teams.getTeam(tx, incident.team_id) : undefined;
      const render = makePageRenderer(deps.templates, tx);
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
          actor: actorName,
          note: note ?? '',
        };
        const { rendered, template } = await render(slug, recipient.channel, person.locale, variables);
        rows.push(pageNotification(incident, person, recipient.channel, recipient.recipient, rendered, now, { event: slug, template }));
      }
      if (rows.length > 0) await deps.enqueue(tx, rows);
      await incidents.appendTimeline(tx, {
        incident_id: incident.id,
        type: 'escalation.outcome_notified',
        actor,
        data: { status: reason, by: actor, notifications: rows.map((r) => ({ notification_id: r.id, user_id: r.user_id, channel: r.channel })) },
      });
      return true;
    },
  };
}

export type Paging = ReturnType<typeof makePaging>;

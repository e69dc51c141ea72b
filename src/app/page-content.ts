import { breaksQuietHours, PAGE_EVENT, pagePriority } from '../domain/escalation.ts';
import type { Incident } from '../domain/incident.ts';
import { defaultMaxRetries, initialStatus, type Channel } from '../domain/notification.ts';
import { releaseTime } from '../domain/quiet-hours.ts';
import { localeChain, renderTemplate, type Rendered, type Template } from '../domain/template.ts';
import type { User } from '../domain/user.ts';
import type { Tx } from '../ports/transact.ts';
import type * as TemplateStore from '../adapters/postgres/template-store.ts';
import type { NewNotificationRow } from '../adapters/postgres/notification-store.ts';
import { newId } from './ids.ts';

// SPEC section 5: what a page (or the news that an incident was acknowledged or resolved) says,
// and the notification it becomes.

export function incidentVariables(incident: Incident) {
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

export type PageVariables = Record<string, unknown> & { incident: ReturnType<typeof incidentVariables> };

/**
 * Renders templates for one paging step, looking each (slug, channel, locale) up once. When the
 * stored template no longer renders with the variables paging gives (say a customised version
 * that names one that does not exist), the page says it plainly instead: a page must go out
 * whatever happened to its template. The problem is kept for the timeline.
 */
export function makePageRenderer(templates: Pick<typeof TemplateStore, 'findLatestTemplate'>, tx: Tx) {
  const cache = new Map<string, Template | undefined>();
  return async function render(
    slug: string,
    channel: Channel,
    locale: string,
    variables: PageVariables,
  ): Promise<{ rendered: Rendered; template: { slug: string; locale: string; version: number } | null; problem?: string }> {
    const key = `${slug}|${channel}|${locale}`;
    if (!cache.has(key)) cache.set(key, await templates.findLatestTemplate(tx, slug, channel, localeChain(locale)));
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
  };
}

/** The notification a page becomes. Quiet hours hold back everything but a P1 until they end. */
export function pageNotification(
  incident: Incident,
  user: Pick<User, 'id' | 'timezone' | 'preferences'>,
  channel: Channel,
  recipient: string,
  rendered: Rendered,
  at: Date,
  metadata: Record<string, unknown>,
): NewNotificationRow {
  const priority = pagePriority(incident.severity);
  const release = releaseTime(at, breaksQuietHours(incident.severity), user.timezone, user.preferences.quiet_hours);
  const scheduledAt = release.getTime() > at.getTime() ? release : null;
  return {
    id: newId(),
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
    job_id: newId(),
    user_id: user.id,
  };
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * SPEC section 10: every escalation page carries its action link, whatever its template says
 * (a customised template cannot lose it), and an SMS page ends with the code to reply with.
 */
export function withPageActions(rendered: Rendered, channel: Channel, actionUrl: string, replyCode?: string): Rendered {
  if (channel === 'sms') {
    const code = replyCode ?? '';
    return { ...rendered, content: `${rendered.content}\n${actionUrl}\nReply "${code} A" to acknowledge, "${code} R" to resolve. Code ${code}` };
  }
  if (rendered.content_type === 'html') {
    return { ...rendered, content: `${rendered.content}\n<p><a href="${escapeHtml(actionUrl)}">Acknowledge or resolve this incident</a></p>` };
  }
  return { ...rendered, content: `${rendered.content}\n\nAcknowledge or resolve: ${actionUrl}` };
}

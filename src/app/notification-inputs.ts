import { DomainError } from '../domain/errors.ts';
import { recipientProblem, type Channel, type Priority } from '../domain/notification.ts';
import { releaseTime } from '../domain/quiet-hours.ts';
import { localeChain, localeProblem, renderTemplate, type ContentType, type Template } from '../domain/template.ts';
import type { User } from '../domain/user.ts';
import type { Tx } from '../ports/transact.ts';
import type * as TemplateStore from '../adapters/postgres/template-store.ts';
import type * as UserStore from '../adapters/postgres/user-store.ts';
import type { References } from './references.ts';

// SPEC sections 4 and 5: what a request for notifications must say, and what it comes to once its
// users and templates are looked up. Every entry point that sends notifications gets the same
// checks, each problem with its field path, all of them at once.

export interface NotificationInput {
  channel: Channel;
  /** Exactly one of recipient and user_id. */
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
export interface Resolved {
  recipient: string;
  user_id: string | null;
  subject: string | null;
  content: string;
  content_type: ContentType;
  scheduled_at: Date | null;
}

type Problem = { field: string; message: string };

/**
 * What a schema cannot say: one of recipient and user_id, one of content and template, the
 * recipient must suit its channel, and the channel must be configured on this server.
 */
export function checkNotificationInputs(inputs: NotificationInput[], channelProblem: (channel: Channel) => string | null, fieldOf: (index: number) => string): void {
  const details: Problem[] = [];
  inputs.forEach((input, index) => {
    const at = fieldOf(index);
    if (input.recipient !== undefined && input.user_id !== undefined) details.push({ field: `${at}.user_id`, message: 'give recipient or user_id, not both' });
    if (input.recipient === undefined && input.user_id === undefined) details.push({ field: `${at}.recipient`, message: 'is required, unless user_id is given' });
    if (input.content !== undefined && input.template !== undefined) details.push({ field: `${at}.template`, message: 'give content or template, not both' });
    if (input.content === undefined && input.template === undefined) details.push({ field: `${at}.content`, message: 'is required, unless template is given' });
    if (input.template !== undefined && input.subject !== undefined) details.push({ field: `${at}.subject`, message: 'comes from the template; leave it out' });
    const locale = input.template?.locale;
    const localeIssue = locale === undefined ? null : localeProblem(locale);
    if (localeIssue) details.push({ field: `${at}.template.locale`, message: localeIssue });
    const problem = input.recipient === undefined ? null : recipientProblem(input.channel, input.recipient);
    if (problem) details.push({ field: `${at}.recipient`, message: problem });
    const missing = channelProblem(input.channel);
    if (missing) details.push({ field: `${at}.channel`, message: missing });
  });
  if (details.length > 0) {
    throw new DomainError('VALIDATION_ERROR', `invalid request: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}`, details);
  }
}

export function makeNotificationInputs(deps: {
  users: Pick<typeof UserStore, 'getUsers'>;
  templates: Pick<typeof TemplateStore, 'findLatestTemplate'>;
  references: Pick<References, 'unknown'>;
}) {
  /**
   * SPEC sections 4 and 5: a notification may name a user instead of a recipient (their contact
   * method for the channel is used, if they have not turned the channel off) and a template
   * instead of content (rendered now, so delivery sends what was accepted). Sent to a user, a
   * normal or low priority notification waits for the end of their quiet hours. Every problem of
   * every input is reported at once, each with its field path (`fieldOf(index)` is the input's).
   */
  async function resolve(tx: Tx, inputs: NotificationInput[], now: Date, fieldOf: (index: number) => string): Promise<Resolved[]> {
    const userIds = [...new Set(inputs.flatMap((input) => (input.user_id ? [input.user_id] : [])))];
    const users = new Map<string, User>((await deps.users.getUsers(tx, userIds)).map((user) => [user.id, user]));
    const templates = new Map<string, Template | undefined>();
    // SPEC section 2: an incident_id must name an incident (the foreign key would say so too, but
    // without the field's path in a batch).
    const problems: Problem[] = await deps.references.unknown(tx, inputs.flatMap((input, index) =>
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
        if (!templates.has(key)) templates.set(key, await deps.templates.findLatestTemplate(tx, slug, input.channel, chain));
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

  return { resolve };
}

export type NotificationInputs = ReturnType<typeof makeNotificationInputs>;

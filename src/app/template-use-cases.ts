import { DomainError, notFound } from '../domain/errors.ts';
import type { Channel } from '../domain/notification.ts';
import { canonicalLocale, localeChain, localeProblem, renderTemplate, templateSyntaxProblem, type Template } from '../domain/template.ts';
import type { Transact, Tx } from '../ports/transact.ts';
import type * as TemplateStore from '../adapters/postgres/template-store.ts';

// SPEC section 5: versioned templates, and a preview of what they render.

export interface NewTemplateInput {
  slug: string;
  channel: Channel;
  locale?: string;
  subject?: string | null;
  body: string;
}

export interface RenderInput {
  variables?: Record<string, unknown>;
  locale?: string;
  channel?: Channel;
}

export function makeTemplateUseCases(deps: { transact: Transact; templates: typeof TemplateStore }) {

  /** POST /v1/templates: a new version of (slug, channel, locale), checked to compile first. */
  async function addVersionWithin(tx: Tx, actor: string, input: NewTemplateInput): Promise<Template> {
    const problems: { field: string; message: string }[] = [];
    const locale = input.locale ?? 'en';
    const badLocale = localeProblem(locale);
    if (badLocale) problems.push({ field: 'body.locale', message: badLocale });
    const badBody = templateSyntaxProblem(input.body);
    if (badBody) problems.push({ field: 'body.body', message: badBody });
    const badSubject = input.subject ? templateSyntaxProblem(input.subject) : null;
    if (badSubject) problems.push({ field: 'body.subject', message: badSubject });
    if (problems.length > 0) {
      throw new DomainError('VALIDATION_ERROR', `invalid request: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, problems);
    }
    return deps.templates.addTemplateVersion(tx, {
        slug: input.slug,
        channel: input.channel,
        locale: canonicalLocale(locale),
        subject: input.subject ?? null,
        body: input.body,
        created_by: actor,
      });
  }

  /**
   * POST /v1/templates/:slug/render: a preview of what a notification naming this template would
   * carry. The channel may be left out when the slug has templates for one channel only.
   */
  async function preview(slug: string, input: RenderInput) {
    if (input.locale !== undefined) {
      const problem = localeProblem(input.locale);
      if (problem) throw new DomainError('VALIDATION_ERROR', `body.locale ${problem}`, [{ field: 'body.locale', message: problem }]);
    }
    return deps.transact(async (tx) => {
      const channels = await deps.templates.templateChannels(tx, slug);
      if (channels.length === 0) throw notFound('TEMPLATE', slug);
      let channel = input.channel;
      if (channel === undefined) {
        if (channels.length > 1) {
          throw new DomainError('VALIDATION_ERROR', `template ${slug} exists for ${channels.join(', ')}; say which channel to render`, [
            { field: 'body.channel', message: `is required: the template exists for ${channels.join(', ')}` },
          ]);
        }
        channel = channels[0]!;
      }
      const template = await deps.templates.findLatestTemplate(tx, slug, channel, localeChain(input.locale));
      if (!template) throw new DomainError('TEMPLATE_NOT_FOUND', `template ${slug} has no version for ${channel}`);
      const rendered = renderTemplate(template, input.variables ?? {});
      return { slug, channel, locale: template.locale, version: template.version, ...rendered };
    });
  }
  return { addVersionWithin, addVersion: (actor: string, input: NewTemplateInput) => deps.transact((tx) => addVersionWithin(tx, actor, input)), preview };
}

export type TemplateUseCases = ReturnType<typeof makeTemplateUseCases>;

import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { TemplateUseCases } from '../../../app/template-use-cases.ts';
import { actorOf } from '../../../domain/api-key.ts';
import { notFound } from '../../../domain/errors.ts';
import { channels } from '../../../domain/notification.ts';
import { slugPattern, type Template } from '../../../domain/template.ts';
import type { Tx } from '../../../ports/transact.ts';
import { latestVersionsOf, listLatestTemplates, templateVersions } from '../../postgres/template-store.ts';
import type { Authenticator } from '../auth.ts';
import type { Idempotency } from '../idempotency.ts';
import { errors, IdempotencyHeaders, Nullable, Page, PageQuery, Timestamp, Uuid } from '../schemas.ts';

const Channel = Type.Enum([...channels]);
const Slug = Type.String({ pattern: slugPattern, description: 'lower case letters, digits, dots, dashes and underscores, such as incident.page' });
const Locale = Type.String({ minLength: 1, maxLength: 35, description: 'a BCP 47 tag such as en, pt or pt-BR' });
const ContentType = Type.Enum(['text', 'html'], { description: 'email templates render HTML with every variable escaped; the others plain text' });

const TemplateBody = Type.Object({
  id: Uuid,
  slug: Type.String(),
  channel: Channel,
  locale: Type.String(),
  version: Type.Integer({ description: '1, 2, ... per slug, channel and locale' }),
  subject: Nullable(Type.String()),
  body: Type.String(),
  created_by: Type.String(),
  created_at: Timestamp,
});

const CreateTemplate = Type.Object(
  {
    slug: Slug,
    channel: Channel,
    locale: Type.Optional({ ...Locale, default: 'en' }),
    subject: Type.Optional(Nullable(Type.String({ maxLength: 998, description: 'a Handlebars template for the subject line' }))),
    body: Type.String({ minLength: 1, maxLength: 100_000, description: 'a Handlebars template: {{incident.title}}, {{#if note}}...{{/if}}' }),
  },
  { additionalProperties: false },
);

const RenderRequest = Type.Object(
  {
    variables: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'the values the template uses' })),
    locale: Type.Optional({ ...Locale, description: 'falls back pt-BR → pt → en' }),
    channel: Type.Optional({ ...Channel, description: 'required when the slug has templates for several channels' }),
  },
  { additionalProperties: false },
);

const Rendered = Type.Object({
  slug: Type.String(),
  channel: Channel,
  locale: Type.String({ description: 'the locale of the version used, after fallback' }),
  version: Type.Integer(),
  subject: Nullable(Type.String()),
  content: Type.String(),
  content_type: ContentType,
});

const SlugParams = Type.Object({ slug: Slug });

const ListQuery = Type.Object(
  { channel: Type.Optional(Channel), locale: Type.Optional(Locale), ...PageQuery },
  { additionalProperties: false },
);

const presentTemplate = (t: Template) => ({
  id: t.id,
  slug: t.slug,
  channel: t.channel,
  locale: t.locale,
  version: t.version,
  subject: t.subject,
  body: t.body,
  created_by: t.created_by,
  created_at: t.created_at.toISOString(),
});

export interface TemplateRouteDeps {
  templates: TemplateUseCases;
  /** For plain reads, outside any transaction. */
  reader: Tx;
  auth: Authenticator;
  idempotent: Idempotency;
}

/** SPEC section 5: templates, versioned by slug, channel and locale. */
export const templateRoutes = (deps: TemplateRouteDeps): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['templates'];

  app.post('/v1/templates', {
    onRequest: deps.auth.require('write'),
    schema: {
      tags,
      summary: 'Add a new version of a template',
      description: 'Versions count 1, 2, ... per slug, channel and locale; the latest one is used.',
      headers: IdempotencyHeaders,
      body: CreateTemplate,
      response: { 201: TemplateBody, ...errors(400, 401, 403, 409, 413, 415, 429) },
    },
  }, async (request, reply) =>
    deps.idempotent(request, reply, 201, async (tx) => {
      const template = await deps.templates.addVersionWithin(tx, actorOf(request.principal!), request.body);
      return { body: presentTemplate(template), headers: { location: `/v1/templates/${template.slug}` } };
    }));

  app.get('/v1/templates', {
    onRequest: deps.auth.require('read'),
    schema: {
      tags,
      summary: 'List templates: the latest version of each slug, channel and locale',
      querystring: ListQuery,
      response: { 200: Page(TemplateBody), ...errors(400, 401, 403) },
    },
  }, async (request) => {
    const { limit = 50, ...rest } = request.query;
    const result = await listLatestTemplates(deps.reader, { ...rest, limit });
    return { data: result.data.map(presentTemplate), next_cursor: result.next_cursor };
  });

  app.get('/v1/templates/:slug', {
    onRequest: deps.auth.require('read'),
    schema: {
      tags,
      summary: 'A template: its latest version per channel and locale',
      description: 'Every version, page by page: GET /v1/templates/{slug}/versions.',
      params: SlugParams,
      response: {
        200: Type.Object({ slug: Type.String(), latest: Type.Array(TemplateBody, { description: 'one per channel and locale, by channel then locale' }) }),
        ...errors(400, 401, 403, 404),
      },
    },
  }, async (request) => {
    const latest = await latestVersionsOf(deps.reader, request.params.slug);
    if (latest.length === 0) throw notFound('TEMPLATE', request.params.slug);
    return { slug: request.params.slug, latest: latest.map(presentTemplate) };
  });

  app.get('/v1/templates/:slug/versions', {
    onRequest: deps.auth.require('read'),
    schema: {
      tags,
      summary: "Every version of a template, by channel and locale, newest first within each",
      params: SlugParams,
      querystring: ListQuery,
      response: { 200: Page(TemplateBody), ...errors(400, 401, 403, 404) },
    },
  }, async (request) => {
    const { limit = 50, ...rest } = request.query;
    const result = await templateVersions(deps.reader, request.params.slug, { ...rest, limit });
    if (result.data.length === 0 && !rest.cursor && (await latestVersionsOf(deps.reader, request.params.slug)).length === 0) {
      throw notFound('TEMPLATE', request.params.slug);
    }
    return { data: result.data.map(presentTemplate), next_cursor: result.next_cursor };
  });

  app.post('/v1/templates/:slug/render', {
    onRequest: deps.auth.require('read'),
    schema: {
      tags,
      summary: 'Preview a template rendered with variables',
      description: 'A missing variable is 400 TEMPLATE_VARIABLE_MISSING naming it. Email bodies are HTML with variables escaped.',
      params: SlugParams,
      body: RenderRequest,
      response: { 200: Rendered, ...errors(400, 401, 403, 404, 413, 415, 429) },
    },
  }, async (request) => deps.templates.preview(request.params.slug, request.body));
};

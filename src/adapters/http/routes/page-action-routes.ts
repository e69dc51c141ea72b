import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import formbody from '@fastify/formbody';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { LinkView, PageActions } from '../../../app/page-action-use-cases.ts';
import { DomainError } from '../../../domain/errors.ts';
import { toErrorResponse } from '../error-mapping.ts';
import { escapeHtml, sendPage } from '../html-page.ts';
import { errors } from '../schemas.ts';

// SPEC section 10: acting on a page from the page. GET and POST /a/<token> (HTML, for a person
// with a browser) and POST /v1/inbound/sms (TwiML, for a Twilio-compatible SMS provider).

const TokenParams = Type.Object({ token: Type.String({ maxLength: 300, description: 'the token of the link in the page' }) });
const ActionForm = Type.Object(
  { action: Type.Union([Type.Literal('acknowledge'), Type.Literal('resolve')]) },
  { additionalProperties: false },
);
const InboundSms = Type.Object(
  {
    From: Type.String({ maxLength: 64, description: 'the sender, E.164' }),
    Body: Type.String({ maxLength: 2000, description: '"<code> A" acknowledges, "<code> R" resolves' }),
  },
  { additionalProperties: Type.String({ maxLength: 2000 }), description: 'Twilio sends more fields (MessageSid, To, ...); they are signed too' },
);

/** A page that names no incident and offers no action (SPEC section 10). */
export function deadLink(reply: FastifyReply, problem: 'invalid' | 'expired') {
  return problem === 'expired'
    ? sendPage(reply, 410, 'Link expired', '<h1>This link has expired</h1><p>Its incident was resolved, or the link is more than 7 days old. Nothing was changed.</p><p>Open Tocsin to see where things stand.</p>')
    : sendPage(reply, 404, 'Link not valid', '<h1>This link is not valid</h1><p>It may have been copied incompletely. Nothing was changed.</p><p>Open Tocsin to see where things stand.</p>');
}

function incidentPage(reply: FastifyReply, view: Extract<LinkView, { ok: true }>, done?: string) {
  const { incident, person } = view;
  const button = (action: string, label: string, css = '') =>
    `<form method="post"><input type="hidden" name="action" value="${action}"><button type="submit"${css ? ` class="${css}"` : ''}>${label}</button></form>`;
  const buttons = incident.status === 'resolved'
    ? ''
    : `${incident.status === 'open' ? button('acknowledge', 'Acknowledge') : ''}${button('resolve', 'Resolve', 'resolve')}`;
  const body = `${done ? `<p role="status"><strong>${escapeHtml(done)}</strong></p>` : ''}
<h1>${escapeHtml(incident.title)}</h1>
<dl><dt>Severity</dt><dd>${escapeHtml(incident.severity)}</dd><dt>Status</dt><dd>${escapeHtml(incident.status)}</dd><dt>Paged</dt><dd>${escapeHtml(person.name)}</dd></dl>
${buttons}
<p class="hint">The buttons act as ${escapeHtml(person.name)}. Opening this page changes nothing.</p>`;
  return sendPage(reply, 200, incident.title, body);
}

const escapeXml = (text: string) => text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);

/**
 * Twilio's request signature: base64 HMAC-SHA1, keyed with the auth token, over the full URL the
 * provider called (PUBLIC_URL and the path) followed by every POST field's name and value,
 * sorted by name.
 */
export function twilioSignature(authToken: string, url: string, fields: Record<string, string>): string {
  const data = url + Object.keys(fields).sort().map((name) => name + fields[name]).join('');
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

export const pageActionRoutes = (deps: { actions: PageActions; publicUrl: string; smsAuthToken?: string | undefined }): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  // Form posts only here: the rest of the API stays JSON-only (this plugin is encapsulated).
  await fastify.register(formbody, { bodyLimit: 16 * 1024 });

  // The pages answer in HTML, whatever went wrong: a bad form, a rate limit, our own failure.
  fastify.setErrorHandler((error, request, reply) => {
    const { status, body } = toErrorResponse(error, request.id);
    if (request.routeOptions.url === '/v1/inbound/sms') return reply.code(status).send(body);
    if (status >= 500) request.log.error({ err: error }, 'action link failed');
    const retry = (error as { details?: { retry_after_seconds?: number } }).details?.retry_after_seconds;
    if (status === 429 && retry) reply.header('retry-after', String(retry));
    const title = status === 429 ? 'Too many requests' : status >= 500 ? 'Something went wrong' : 'Not understood';
    const text = status === 429 ? 'Too many requests from here; wait a minute and try again.' : status >= 500 ? 'Tocsin could not do this just now. Nothing was changed; try again in a moment.' : 'The page did not send what Tocsin expected. Nothing was changed.';
    return sendPage(reply, status >= 500 ? 503 : status, title, `<h1>${title}</h1><p>${text}</p>`);
  });

  const tags = ['acting on a page'];
  app.get('/a/:token', {
    schema: {
      tags,
      summary: 'The page of an action link (HTML): the incident and its Acknowledge and Resolve buttons; changes nothing',
      description: 'An invalid link is 404 and an expired one (incident resolved, or older than 7 days) 410, each a page that names no incident.',
      security: [],
      params: TokenParams,
      produces: ['text/html'],
    },
  }, async (request, reply) => {
    const view = await deps.actions.open(request.params.token);
    return view.ok ? incidentPage(reply, view) : deadLink(reply, view.problem);
  });

  app.post('/a/:token', {
    schema: {
      tags,
      summary: 'Acknowledge or resolve as the person paged (the buttons of the page; form-encoded action=acknowledge|resolve)',
      security: [],
      params: TokenParams,
      body: ActionForm,
      consumes: ['application/x-www-form-urlencoded'],
      produces: ['text/html'],
    },
  }, async (request, reply) => {
    const view = await deps.actions.actOnLink(request.params.token, request.body.action);
    if (!view.ok) return deadLink(reply, view.problem);
    return incidentPage(reply, view, view.incident.status === 'resolved' ? 'Resolved. Thank you.' : 'Acknowledged: escalation stopped.');
  });

  app.post('/v1/inbound/sms', {
    schema: {
      tags,
      summary: 'A reply to an SMS page, from a Twilio-compatible provider (form-encoded; X-Twilio-Signature checked with SMS_AUTH_TOKEN)',
      description: 'Answers TwiML <Response><Message>: what was done, or a short help text when the reply matches nothing (then nothing changes). A bad or missing signature is 403 FORBIDDEN.',
      security: [],
      body: InboundSms,
      consumes: ['application/x-www-form-urlencoded'],
      produces: ['text/xml'],
      response: errors(400, 403, 413, 415, 429),
    },
  }, async (request: FastifyRequest<{ Body: Record<string, string> & { From: string; Body: string } }>, reply) => {
    const given = request.headers['x-twilio-signature'];
    const expected = deps.smsAuthToken ? Buffer.from(twilioSignature(deps.smsAuthToken, `${deps.publicUrl}${request.url}`, request.body)) : undefined;
    if (typeof given !== 'string' || !expected || given.length !== expected.length || !timingSafeEqual(Buffer.from(given), expected)) {
      throw new DomainError('FORBIDDEN', deps.smsAuthToken ? 'X-Twilio-Signature is missing or does not match' : 'inbound SMS needs SMS_AUTH_TOKEN to check signatures');
    }
    const message = await deps.actions.smsReply(request.body.From, request.body.Body);
    return reply.header('content-type', 'text/xml; charset=utf-8').send(`<?xml version="1.0" encoding="UTF-8"?><Response><Message>${escapeXml(message)}</Message></Response>`);
  });
};

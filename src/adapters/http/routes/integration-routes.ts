import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { IntegrationUseCases } from '../../../app/integration-use-cases.ts';
import { integrationTypes, type Integration } from '../../../domain/alert.ts';
import { alertmanagerToAction } from '../../../domain/alertmanager.ts';
import { DomainError } from '../../../domain/errors.ts';
import { eventActions, eventToAction, parseEvent, pdSeverities } from '../../../domain/events-v2.ts';
import type { Tx } from '../../../ports/transact.ts';
import { findIntegrationByKey, generateIntakeKey, listIntegrations, revokeIntegration } from '../../postgres/integration-store.ts';
import type { Authenticator } from '../auth.ts';
import { toErrorResponse } from '../error-mapping.ts';
import { intakeRateLimit } from '../rate-limit.ts';
import { errors, IdParams, Nullable, Page, PageOnlyQuery, Timestamp, Uuid } from '../schemas.ts';

// SPEC section 6: integration keys (admin) and the two intake endpoints they open, which are
// authenticated by the key itself rather than by a Bearer API key, as the tools that call them
// expect. They are rate limited per key (INTAKE_RATE_LIMIT_PER_MINUTE, SPEC section 2), and an
// unknown key counts against the client address's budget like a 401.

const IntegrationType = Type.Enum([...integrationTypes], {
  description: 'events_v2: PagerDuty Events API v2 senders (POST /v2/enqueue); alertmanager: the Prometheus Alertmanager webhook',
});

const IntegrationBody = Type.Object({
  id: Uuid,
  type: IntegrationType,
  name: Type.String(),
  team_id: Nullable(Uuid),
  key_prefix: Type.String({ description: 'the first characters of the key, to tell keys apart' }),
  created_at: Timestamp,
});

const CreatedIntegrationBody = Type.Object({
  ...IntegrationBody.properties,
  key: Type.String({ description: 'the Events v2 routing_key, or the :key of the Alertmanager URL; shown only in this response' }),
  url: Type.String({ description: 'the path to send events to: /v2/enqueue, or /v1/integrations/{key}/alertmanager' }),
});

const CreateIntegration = Type.Object(
  {
    type: IntegrationType,
    name: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' }),
    team_id: Type.Optional(Nullable(Uuid)),
  },
  { additionalProperties: false },
);

// The Events v2 event as PagerDuty documents it. This schema is for the OpenAPI document only: the
// route reads the body with parseEvent, so that a bad event gets PagerDuty's 400, not Tocsin's.
const EnqueueEvent = Type.Object(
  {
    routing_key: Type.String({ description: "the integration's key" }),
    event_action: Type.Enum([...eventActions]),
    dedup_key: Type.Optional(Type.String({ maxLength: 255, description: 'required for acknowledge and resolve; generated for a trigger without one' })),
    payload: Type.Optional(Type.Object({
      summary: Type.String({ description: 'the incident title (cut to 200 characters; the whole summary then goes to the description)' }),
      source: Type.String(),
      severity: Type.Enum([...pdSeverities], { description: 'critical→P1, error→P2, warning→P3, info→P4' }),
      timestamp: Type.Optional(Timestamp),
      component: Type.Optional(Type.String()),
      group: Type.Optional(Type.String()),
      class: Type.Optional(Type.String()),
      custom_details: Type.Optional(Type.Unknown()),
    }, { description: 'required for trigger' })),
    links: Type.Optional(Type.Array(Type.Object({ href: Type.String(), text: Type.Optional(Type.String()) }))),
    images: Type.Optional(Type.Array(Type.Object({ src: Type.String(), href: Type.Optional(Type.String()), alt: Type.Optional(Type.String()) }))),
    client: Type.Optional(Type.String()),
    client_url: Type.Optional(Type.String()),
  },
  { description: 'A PagerDuty Events API v2 event. Unknown fields are ignored.' },
);

const EnqueueAccepted = Type.Object({
  status: Type.Literal('success'),
  message: Type.String(),
  dedup_key: Type.String({ description: 'the dedup_key of the incident; send it again to acknowledge or resolve' }),
});

const EnqueueError = Type.Object(
  {
    status: Type.String({ description: '"invalid event", or "throttle event" for 429' }),
    message: Type.String(),
    errors: Type.Array(Type.String(), { description: 'one sentence per problem' }),
    code: Type.String({ description: "Tocsin's error code, as in every other error" }),
    request_id: Type.String(),
  },
  { description: "PagerDuty's error body (status, message, errors), with Tocsin's code and request_id added" },
);

const enqueueErrors = (...statuses: number[]) => Object.fromEntries(statuses.map((status) => [status, EnqueueError]));

const Labels = Type.Record(Type.String(), Type.String());

const AlertmanagerAlert = Type.Object({
  status: Type.String({ description: 'firing or resolved' }),
  labels: Labels,
  annotations: Type.Optional({ ...Labels, default: {} }),
  startsAt: Type.Optional(Type.String()),
  endsAt: Type.Optional(Type.String()),
  generatorURL: Type.Optional(Type.String()),
  fingerprint: Type.Optional(Type.String()),
});

const AlertmanagerWebhook = Type.Object(
  {
    version: Type.Optional(Type.String({ description: 'Alertmanager sends "4"' })),
    groupKey: Type.String({ minLength: 1, description: 'one incident per groupKey' }),
    truncatedAlerts: Type.Optional(Type.Integer({ minimum: 0 })),
    status: Type.Enum(['firing', 'resolved']),
    receiver: Type.Optional(Type.String({ default: '' })),
    groupLabels: Type.Optional({ ...Labels, default: {} }),
    commonLabels: Type.Optional({ ...Labels, default: {} }),
    commonAnnotations: Type.Optional({ ...Labels, default: {} }),
    externalURL: Type.Optional(Type.String({ default: '' })),
    alerts: Type.Array(AlertmanagerAlert, { maxItems: 10_000 }),
  },
  { description: 'The Prometheus Alertmanager webhook payload, version 4' },
);

const AlertOutcomeBody = Type.Object({
  outcome: Type.Enum(['created', 'updated', 'acknowledged', 'resolved', 'ignored']),
  incident_id: Nullable(Uuid),
  dedup_key: Type.String(),
});

const KeyParams = Type.Object({ key: Type.String({ minLength: 1, maxLength: 200, description: "the integration's key" }) });

export const enqueuePath = '/v2/enqueue';
export const alertmanagerPath = (key: string): string => `/v1/integrations/${encodeURIComponent(key)}/alertmanager`;

const present = (integration: Integration) => ({ ...integration, created_at: integration.created_at.toISOString() });

/**
 * Errors of /v2/enqueue in PagerDuty's shape, so that a sender logs a useful reason: PagerDuty's
 * own clients (Alertmanager's among them) read `message` and `errors`. Tocsin's `code` and
 * `request_id` ride along.
 */
function enqueueErrorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  const { status, body } = toErrorResponse(error, request.id);
  if (status >= 500) request.log.error({ err: error }, 'request failed');
  else request.log.info({ code: body.code, status }, body.message);
  const details = Array.isArray(body.details) ? body.details : [];
  const listed = details.map((detail) =>
    typeof detail === 'string' ? detail : `${(detail as { field?: string }).field ?? 'body'} ${(detail as { message?: string }).message ?? 'is invalid'}`);
  return reply.code(status).send({
    status: status === 429 ? 'throttle event' : status >= 500 ? 'error' : 'invalid event',
    message: status === 400 ? 'Event object is invalid' : body.message,
    errors: listed.length > 0 ? listed : [body.message],
    code: body.code,
    request_id: body.request_id,
  });
}

export interface IntegrationRouteDeps {
  integrations: IntegrationUseCases;
  /** For plain reads, outside any transaction. */
  reader: Tx;
  auth: Authenticator;
  /** INTAKE_RATE_LIMIT_PER_MINUTE. */
  intakePerMinute: number;
}

export const integrationRoutes = (deps: IntegrationRouteDeps): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['integrations'];

  app.post('/v1/integrations', {
    onRequest: deps.auth.require('admin'),
    schema: {
      tags,
      summary: 'Create an integration key (admin); the key is shown once',
      body: CreateIntegration,
      response: { 201: CreatedIntegrationBody, ...errors(400, 401, 403, 413, 415, 429) },
    },
  }, async (request, reply) => {
    // Not under Idempotency-Key, like API keys: a replay would have to return the secret again,
    // and only its hash is stored. A client that lost the response deletes it and makes another.
    const { key, key_hash, key_prefix } = generateIntakeKey();
    const integration = await deps.integrations.create({ ...request.body, team_id: request.body.team_id ?? null }, { key_hash, key_prefix });
    const url = integration.type === 'events_v2' ? enqueuePath : alertmanagerPath(key);
    return reply.code(201).header('location', `/v1/integrations/${integration.id}`).send({ ...present(integration), key, url });
  });

  app.get('/v1/integrations', {
    onRequest: deps.auth.require('read'),
    schema: {
      tags,
      summary: 'List active integrations, oldest first (keys are not shown again)',
      querystring: PageOnlyQuery,
      response: { 200: Page(IntegrationBody), ...errors(400, 401, 403) },
    },
  }, async (request) => {
    const { limit = 50, cursor } = request.query;
    const result = await listIntegrations(deps.reader, { limit, cursor });
    return { data: result.data.map(present), next_cursor: result.next_cursor };
  });

  app.delete('/v1/integrations/:id', {
    onRequest: deps.auth.require('admin'),
    schema: {
      tags,
      summary: 'Delete (revoke) an integration (admin): its key stops working at once',
      params: IdParams,
      response: { 204: Type.Null(), ...errors(400, 401, 403, 404, 429) },
    },
  }, async (request, reply) => {
    if (!(await revokeIntegration(deps.reader, request.params.id))) {
      throw new DomainError('INTEGRATION_NOT_FOUND', `integration ${request.params.id} does not exist`);
    }
    return reply.code(204).send(null);
  });

  app.post('/v1/integrations/:key/alertmanager', {
    schema: {
      tags,
      summary: 'Prometheus Alertmanager webhook (version 4), authenticated by the key in the URL',
      description: 'Firing opens or updates one incident per groupKey; resolved resolves it. Point a webhook_configs url here.',
      security: [],
      params: KeyParams,
      body: AlertmanagerWebhook,
      response: { 200: AlertOutcomeBody, ...errors(400, 404, 413, 415, 429) },
    },
    config: intakeRateLimit(deps.intakePerMinute, (request) => (request.params as { key?: string }).key),
  }, async (request) => {
    const integration = await findIntegrationByKey(deps.reader, request.params.key, 'alertmanager');
    if (!integration) throw new DomainError('INTEGRATION_NOT_FOUND', 'no active Alertmanager integration has this key');
    const body = request.body;
    return deps.integrations.receiveAlert(integration, alertmanagerToAction({
      ...body,
      version: body.version ?? '4',
      receiver: body.receiver ?? '',
      groupLabels: body.groupLabels ?? {},
      commonLabels: body.commonLabels ?? {},
      commonAnnotations: body.commonAnnotations ?? {},
      externalURL: body.externalURL ?? '',
      alerts: body.alerts.map((alert) => ({ ...alert, annotations: alert.annotations ?? {} })),
    }));
  });

  // /v2/enqueue answers every error in PagerDuty's shape: its own plugin scope, so that its error
  // handler applies to this route only.
  await app.register(async (scope) => {
    scope.setErrorHandler(enqueueErrorHandler);
    scope.withTypeProvider<TypeBoxTypeProvider>().post(enqueuePath, {
      schema: {
        tags,
        summary: 'PagerDuty Events API v2: trigger, acknowledge or resolve (authenticated by routing_key)',
        description:
          'Compatible with PagerDuty\'s /v2/enqueue: 202 {"status":"success","message":"Event processed","dedup_key"}; ' +
          '400 {"status":"invalid event","message":"Event object is invalid","errors":[...]} for a bad event; 404 for an unknown or deleted routing_key. ' +
          'A trigger with the dedup_key of an unresolved incident of the integration adds to it; acknowledge and resolve move it; ' +
          'after resolution the same key opens a new incident.',
        security: [],
        body: EnqueueEvent,
        response: { 202: EnqueueAccepted, ...enqueueErrors(400, 404, 413, 415, 429, 500) },
      },
      // The schema above documents the event; parseEvent checks it, to give PagerDuty's errors.
      validatorCompiler: () => () => true,
      config: intakeRateLimit(deps.intakePerMinute, (request) => {
        const key = (request.body as { routing_key?: unknown } | null)?.routing_key;
        return typeof key === 'string' ? key : undefined;
      }),
    }, async (request, reply) => {
      const parsed = parseEvent(request.body as unknown);
      if (!parsed.ok) throw new DomainError('VALIDATION_ERROR', 'Event object is invalid', parsed.errors);
      const integration = await findIntegrationByKey(deps.reader, parsed.event.routing_key, 'events_v2');
      if (!integration) {
        throw new DomainError('INTEGRATION_NOT_FOUND', "'routing_key' is not the key of an active Events v2 integration", [
          "'routing_key' is not the key of an active Events v2 integration (unknown or deleted)",
        ]);
      }
      // A trigger without a dedup_key gets a random one, returned so that the sender can resolve it.
      const result = await deps.integrations.receiveAlert(integration, eventToAction(parsed.event, randomUUID().replaceAll('-', '')));
      return reply.code(202).send({ status: 'success', message: 'Event processed', dedup_key: result.dedup_key });
    });
  });
};

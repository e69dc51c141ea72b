import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { notFound } from '../../../domain/errors.ts';
import { channels, notificationStatuses } from '../../../domain/notification.ts';
import type { Tx } from '../../../ports/transact.ts';
import { getIncident } from '../../postgres/incident-store.ts';
import { listNotifications } from '../../postgres/notification-store.ts';
import type { Authenticator } from '../auth.ts';
import { errors, IdParams, Page, PageQuery } from '../schemas.ts';
import { NotificationBody, presentNotification } from './notification-routes.ts';

const Query = Type.Object(
  {
    status: Type.Optional(Type.Enum([...notificationStatuses])),
    channel: Type.Optional(Type.Enum([...channels])),
    ...PageQuery,
  },
  { additionalProperties: false },
);

/**
 * SPEC section 3: `GET /v1/incidents/:id/notifications`, an incident's notifications (the pages
 * of its escalation, the outcome notices, and those created with its incident_id) with their
 * attempts, newest first like `GET /v1/notifications`. Notifications deleted by
 * NOTIFICATION_RETENTION_DAYS are gone from here; the timeline keeps their outcomes.
 */
export const incidentNotificationRoutes = (deps: { reader: Tx; auth: Authenticator }): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/v1/incidents/:id/notifications', {
    onRequest: deps.auth.require('read'),
    schema: {
      tags: ['incidents'],
      summary: "An incident's notifications with their attempts, newest first",
      params: IdParams,
      querystring: Query,
      response: { 200: Page(NotificationBody), ...errors(400, 401, 403, 404) },
    },
  }, async (request) => {
    const { limit = 50, ...filters } = request.query;
    const [incident, page] = await Promise.all([
      getIncident(deps.reader, request.params.id),
      listNotifications(deps.reader, { ...filters, incident_id: request.params.id, limit }),
    ]);
    if (!incident) throw notFound('INCIDENT', request.params.id);
    return { data: page.data.map(presentNotification), next_cursor: page.next_cursor };
  });
};

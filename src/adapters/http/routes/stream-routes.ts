import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type, { type Static } from 'typebox';
import { DomainError } from '../../../domain/errors.ts';
import { parseStreamFilter, StreamFilterError, streamEventTypes, type StreamFilter } from '../../../domain/stream-filter.ts';
import type { Tx } from '../../../ports/transact.ts';
import { createStreamTicket, STREAM_TICKET_TTL_SECONDS } from '../../postgres/stream-ticket-store.ts';
import type { Authenticator } from '../auth.ts';
import { errors, Timestamp, Uuid } from '../schemas.ts';
import { makeStreamAuthenticator, type StreamAuthDeps } from '../stream-auth.ts';
import type { StreamAuth, StreamHub } from '../stream-hub.ts';
import { openSseSink, openWsSink } from '../stream-sinks.ts';
import { handleWsMessage, WS_MAX_MESSAGE_BYTES } from '../stream-ws-messages.ts';
import { streamDocs } from './stream-docs.ts';

export interface StreamRoutesDeps {
  reader: Tx;
  auth: Authenticator;
  hub: StreamHub;
  publicUrl: string;
  sessionPrincipal?: StreamAuthDeps['sessionPrincipal'];
}

const EventId = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

const StreamQuery = Type.Object(
  {
    types: Type.Optional(Type.String({ maxLength: 1000, description: `Comma list of event types to receive: ${streamEventTypes.join(', ')}` })),
    incident_id: Type.Optional({ ...Uuid, description: "Only this incident's incident.* events and the notification.updated events of its notifications" }),
    since: Type.Optional({ ...EventId, description: 'Replay every kept event after this id first (Last-Event-ID wins when both are sent)' }),
    ticket: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'A single-use ticket from POST /v1/stream-tickets, for clients that cannot send headers' })),
  },
  { additionalProperties: false },
);

const StreamHeaders = Type.Object({
  'last-event-id': Type.Optional(Type.String({ pattern: '^[0-9]{0,15}$', description: 'The id of the last event received; what came after it is replayed' })),
});

const TicketBody = Type.Object({
  ticket: Type.String({ description: 'Use once, within 60 s, as ?ticket= on GET /v1/stream or GET /v1/ws (any API process)' }),
  expires_at: Timestamp,
});

interface Prepared {
  auth: StreamAuth;
  filter: StreamFilter;
  since: number | undefined;
}

/**
 * SPEC section 7: GET /v1/stream (SSE), GET /v1/ws (WebSocket), POST /v1/stream-tickets.
 * Registered on the root app, before the other routes: @fastify/websocket then answers an upgrade
 * to any other route by closing it, instead of leaving its socket open.
 */
export async function registerStreamRoutes(app: FastifyInstance, deps: StreamRoutesDeps): Promise<void> {
  await app.register(websocket, {
    options: { maxPayload: WS_MAX_MESSAGE_BYTES },
    // A client that vanishes mid-message is ordinary, not an error of ours.
    errorHandler(error, socket, request) {
      request.log.info({ err: error }, 'websocket closed with an error');
      socket.terminate();
    },
    // SPEC section 1: at shutdown every stream ends at once, SSE and WebSocket alike.
    preClose(done) {
      deps.hub.closeAll();
      for (const socket of app.websocketServer.clients) socket.terminate();
      done();
    },
  });
  await app.register(streamRoutes(deps));
}

const streamRoutes = (deps: StreamRoutesDeps): FastifyPluginAsync =>
  async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    const tags = ['streams'];
    const authenticate = makeStreamAuthenticator(deps);
    const prepared = new WeakMap<FastifyRequest, Prepared>();

    // After validation, so that a request with a bad filter does not use up its ticket.
    async function prepare(request: FastifyRequest<{ Querystring: Static<typeof StreamQuery>; Headers: Static<typeof StreamHeaders> }>) {
      const { types, incident_id, since, ticket } = request.query;
      const header = request.headers['last-event-id'];
      let filter: StreamFilter;
      try {
        filter = parseStreamFilter({ types, incident_id }, 'querystring.');
      } catch (error) {
        if (!(error instanceof StreamFilterError)) throw error;
        throw new DomainError('VALIDATION_ERROR', `invalid request: ${error.message}`, [{ field: error.field, message: error.message.slice(error.field.length + 1) }]);
      }
      const auth = await authenticate(request, ticket, request.ws);
      // An EventSource reconnects to the same URL (its old `since`) with the newest Last-Event-ID.
      prepared.set(request, { auth, filter, since: header ? Number(header) : since });
    }

    app.get('/v1/stream', {
      preHandler: prepare,
      schema: {
        tags,
        ...streamDocs.sse,
        querystring: StreamQuery,
        headers: StreamHeaders,
        response: {
          200: { description: 'An event stream', content: { 'text/event-stream': { schema: Type.String({ description: streamDocs.sseFormat }) } } },
          ...errors(400, 401, 403),
        },
      },
    }, async (request, reply) => {
      const { auth, filter, since } = prepared.get(request)!;
      let client: ReturnType<StreamHub['attach']> | undefined;
      const sink = openSseSink(reply, () => client && deps.hub.detach(client));
      client = deps.hub.attach(sink, auth, filter, since);
      if (sink.closed) deps.hub.detach(client);
    });

    app.route({
      method: 'GET',
      url: '/v1/ws',
      preHandler: prepare,
      schema: {
        tags,
        ...streamDocs.ws,
        querystring: StreamQuery,
        headers: StreamHeaders,
        response: { 101: Type.Null({ description: 'Switching Protocols: WebSocket messages follow' }), ...errors(400, 401, 403) },
      },
      handler: async () => {
        throw new DomainError('VALIDATION_ERROR', 'GET /v1/ws is a WebSocket endpoint: open it with a WebSocket client (Upgrade: websocket)', [
          { field: 'headers.upgrade', message: 'must be websocket' },
        ]);
      },
      wsHandler: (socket, request) => {
        const { auth, filter, since } = prepared.get(request)!;
        const client = deps.hub.attach(openWsSink(socket, () => deps.hub.detach(client)), auth, filter, since);
        socket.on('message', (data, isBinary) => handleWsMessage({ hub: deps.hub, client, socket, requestId: request.id }, data, isBinary));
      },
    });

    app.post('/v1/stream-tickets', {
      onRequest: deps.auth.require('read'),
      schema: {
        tags,
        summary: 'A single-use ticket for a stream (read), for browsers and tools that cannot send an Authorization header',
        description: `Valid ${STREAM_TICKET_TTL_SECONDS} s, once, on any API process. Not under Idempotency-Key: a replay would have to keep the ticket, and only its hash is stored; ask for another.`,
        response: { 201: TicketBody, ...errors(400, 401, 403, 413, 415, 429) },
      },
    }, async (request, reply) => {
      const { ticket, expires_at } = await createStreamTicket(deps.reader, request.principal!);
      return reply.code(201).send({ ticket, expires_at: expires_at.toISOString() });
    });
  };

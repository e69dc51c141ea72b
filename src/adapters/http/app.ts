import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { RequestLogController } from './request-log.ts';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { DomainError } from '../../domain/errors.ts';
import { redactUrl } from '../../logger.ts';
import type { EscalationSetupUseCases } from '../../app/escalation-setup-use-cases.ts';
import type { HeartbeatUseCases } from '../../app/heartbeat-use-cases.ts';
import type { IncidentUseCases } from '../../app/incident-use-cases.ts';
import type { IntegrationUseCases } from '../../app/integration-use-cases.ts';
import type { NotificationUseCases } from '../../app/notification-use-cases.ts';
import type { ScheduleUseCases } from '../../app/schedule-use-cases.ts';
import type { TemplateUseCases } from '../../app/template-use-cases.ts';
import type { UserUseCases } from '../../app/user-use-cases.ts';
import type { AccountUseCases } from '../../app/account-use-cases.ts';
import type { PageActions } from '../../app/page-action-use-cases.ts';
import type { Transact, Tx } from '../../ports/transact.ts';
import type { Metrics } from '../metrics.ts';
import type { RateLimitCounter } from '../postgres/rate-limit-store.ts';
import { makeAuthenticator } from './auth.ts';
import { answerEarlyWithoutReset } from './early-answers.ts';
import { errorHandler } from './error-mapping.ts';
import { makeIdempotency } from './idempotency.ts';
import { registerRateLimit } from './rate-limit.ts';
import { apiKeyRoutes } from './routes/api-key-routes.ts';
import { escalationRoutes } from './routes/escalation-routes.ts';
import { heartbeatRoutes } from './routes/heartbeat-routes.ts';
import { incidentRoutes } from './routes/incident-routes.ts';
import { integrationRoutes } from './routes/integration-routes.ts';
import { notificationRoutes } from './routes/notification-routes.ts';
import { scheduleRoutes } from './routes/schedule-routes.ts';
import { incidentNotificationRoutes } from './routes/incident-notification-routes.ts';
import { systemRoutes, type Readiness } from './routes/system-routes.ts';
import { templateRoutes } from './routes/template-routes.ts';
import { userRoutes } from './routes/user-routes.ts';
import { sessionRoutes } from './routes/session-routes.ts';
import { deadLink, pageActionRoutes } from './routes/page-action-routes.ts';
import { makeSessionAuth } from './session-auth.ts';
import { registerStreamRoutes } from './routes/stream-routes.ts'; // issue 12
import { consoleRoutes } from './console-routes.ts'; // issue 14
import type { StreamHub } from './stream-hub.ts'; // issue 12

/** Everything the HTTP adapter calls: the use cases of each feature, and a few adapters of its own. */
export interface AppDeps {
  incidents: IncidentUseCases;
  notifications: NotificationUseCases;
  integrations: IntegrationUseCases;
  heartbeats: HeartbeatUseCases;
  templates: TemplateUseCases;
  users: UserUseCases;
  setup: EscalationSetupUseCases;
  schedules: ScheduleUseCases;
  /** SPEC section 10: sign-in, sessions, setup links. */
  accounts: AccountUseCases;
  /** SPEC section 10: acting on a page from the page (action links, SMS replies). */
  pageActions: PageActions;
  /** Units of work for Idempotency-Key (the stored answer commits with what it describes). */
  transact: Transact;
  /** For plain reads, outside any transaction (STYLE habit 7: a read route calls a store directly). */
  reader: Tx;
  /** The counters of the rate limits, kept in PostgreSQL so they hold across API processes. */
  rateLimits: RateLimitCounter;
  metrics: Metrics;
  logger: FastifyBaseLogger;
  readiness: Readiness;
  config: {
    ADMIN_API_KEY?: string | undefined;
    RATE_LIMIT_MAX: number;
    RATE_LIMIT_WINDOW_SECONDS: number;
    IDEMPOTENCY_TTL_HOURS: number;
    INTAKE_RATE_LIMIT_PER_MINUTE: number;
    /** The address people and tools reach Tocsin at, for links (SPEC section 1). */
    PUBLIC_URL: string;
    /** SPEC section 1: whose X-Forwarded-For and X-Forwarded-Proto to believe. */
    TRUST_PROXY: boolean | number | string[];
    /** SPEC section 10: how long an unused session lasts. */
    SESSION_TTL_HOURS: number;
    /** SPEC section 10: checks the signature of inbound SMS. */
    SMS_AUTH_TOKEN?: string | undefined;
  };
  /** Issue 12 (SPEC section 7): fans the change feed out to this process's stream clients. */
  streamHub: StreamHub;
  /** Largest accepted request body; larger ones are 413 PAYLOAD_TOO_LARGE. */
  bodyLimitBytes?: number;
}

// X-Request-ID is honoured when it is short and plain; anything else is replaced.
const saneRequestId = /^[A-Za-z0-9._:-]{1,128}$/;

const trustHops = (hops: number) => (_address: string, hop: number) => hop < hops;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger,
    logController: new RequestLogController({ requestIdLogLabel: 'request_id' }),
    requestIdHeader: false,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && saneRequestId.test(given) ? given : crypto.randomUUID();
    },
    bodyLimit: deps.bodyLimitBytes ?? 1024 * 1024,
    // request.ip (rate limits, logs) and request.protocol come from the proxy's headers only when
    // the operator says which proxies to trust.
    // A hop count trusts that many proxies nearest to the server (what Fastify does with a number,
    // which its types do not accept).
    trustProxy: typeof deps.config.TRUST_PROXY === 'number' ? trustHops(deps.config.TRUST_PROXY) : deps.config.TRUST_PROXY,
    // Closing waits for in-flight requests but drops idle keep-alive sockets at once.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // A URL the router cannot decode (a bad percent-escape) never reaches onRequest or the error
    // handler; without this Fastify answers in its own shape and without an X-Request-ID.
    frameworkErrors: (error, request, reply) => {
      reply.header('x-request-id', request.id);
      // SPEC section 10: a mangled action link (too long, bad escapes) still gets a page, not JSON.
      if (request.url.startsWith('/a/')) return void deadLink(reply, 'invalid');
      errorHandler(error, request, reply);
    },
    ajv: {
      customOptions: {
        // Unknown fields are errors, not silently dropped: a typo must not look like success.
        removeAdditional: false,
        allErrors: true,
        coerceTypes: 'array',
        useDefaults: true,
      },
    },
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // A client still uploading when it is answered early (401, 413, 415, 429) gets the answer, not a
  // reset: up to 16 MiB more are read and discarded, for up to 10 s.
  answerEarlyWithoutReset(app, { drainLimitBytes: 16 * 1024 * 1024, drainTimeoutMs: 10_000 });
  app.addHook('onResponse', async (request, reply) => {
    deps.metrics.observeHttp(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  // JSON only: a text/plain body is a 415, not a string that fails validation later.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request) => {
    // Redacted: the path of a mistyped intake URL still holds its key, and this message is logged.
    throw new DomainError('NOT_FOUND', `no route ${request.method} ${redactUrl(request.url.split('?')[0]!)}`);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tocsin',
        version: '0.1.0',
        description: 'Incident management and notification delivery on PostgreSQL. Errors share one shape: {code, message, request_id, details?}.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An API key' },
          session: { type: 'apiKey', in: 'cookie', name: 'tocsin_session', description: 'A person signed in (POST /v1/sessions); writes need Origin equal to PUBLIC_URL\'s' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const { reader } = deps;
  // SPEC section 10: the session cookie, read by the authenticator beside bearer keys.
  await app.register(cookie);
  const sessions = makeSessionAuth({ reader, ttlHours: deps.config.SESSION_TTL_HOURS, publicUrl: deps.config.PUBLIC_URL });
  const auth = makeAuthenticator({ reader, adminApiKey: deps.config.ADMIN_API_KEY, sessions, publicUrl: deps.config.PUBLIC_URL });
  const idempotent = makeIdempotency({ transact: deps.transact, ttlHours: deps.config.IDEMPOTENCY_TTL_HOURS });
  await registerRateLimit(app, { counter: deps.rateLimits, max: deps.config.RATE_LIMIT_MAX, windowSeconds: deps.config.RATE_LIMIT_WINDOW_SECONDS });
  // Issue 12 (SPEC section 7): first, so that @fastify/websocket closes upgrades to other routes.
  await registerStreamRoutes(app, { reader, auth, hub: deps.streamHub, publicUrl: deps.config.PUBLIC_URL, sessionPrincipal: sessions.principal });

  // One plugin per feature, each handed its use cases.
  await app.register(systemRoutes({ readiness: deps.readiness, metrics: deps.metrics }));
  await app.register(apiKeyRoutes({ reader, auth }));
  await app.register(incidentRoutes({ incidents: deps.incidents, reader, auth, idempotent }));
  await app.register(incidentNotificationRoutes({ reader, auth }));
  await app.register(notificationRoutes({ notifications: deps.notifications, reader, auth, idempotent }));
  const intakePerMinute = deps.config.INTAKE_RATE_LIMIT_PER_MINUTE;
  await app.register(integrationRoutes({ integrations: deps.integrations, reader, auth, intakePerMinute }));
  await app.register(heartbeatRoutes({ heartbeats: deps.heartbeats, reader, auth, intakePerMinute }));
  // SPEC section 5: templates, people and escalation.
  await app.register(templateRoutes({ templates: deps.templates, reader, auth, idempotent }));
  await app.register(userRoutes({ users: deps.users, reader, auth, idempotent }));
  // SPEC section 10: people sign in.
  await app.register(sessionRoutes({ accounts: deps.accounts, sessions, reader, auth }));
  await app.register(pageActionRoutes({ actions: deps.pageActions, publicUrl: deps.config.PUBLIC_URL, smsAuthToken: deps.config.SMS_AUTH_TOKEN }));
  await app.register(escalationRoutes({ setup: deps.setup, reader, auth, idempotent }));
  // SPEC section 11: on-call schedules.
  await app.register(scheduleRoutes({ schedules: deps.schedules, reader, auth, idempotent, publicUrl: deps.config.PUBLIC_URL, intakePerMinute }));
  // Issue 14 (SPEC section 8): the web console at /, its files under /console/.
  await app.register(consoleRoutes());
  return app;
}

import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, type ErrorCode } from '../../domain/errors.ts';
import { translatePgError } from '../postgres/pg-errors.ts';

// The one table from error code to HTTP status (STYLE habit 6).
const statusOf: Record<ErrorCode, number> = {
  VALIDATION_ERROR: 400,
  INVALID_STATUS_TRANSITION: 400,
  UNAUTHORIZED: 401,
  INVALID_CREDENTIALS: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  INCIDENT_NOT_FOUND: 404,
  API_KEY_NOT_FOUND: 404,
  NOTIFICATION_NOT_FOUND: 404,
  BATCH_NOT_FOUND: 404,
  INTEGRATION_NOT_FOUND: 404,
  HEARTBEAT_NOT_FOUND: 404,
  TEMPLATE_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  TEAM_NOT_FOUND: 404,
  ESCALATION_POLICY_NOT_FOUND: 404,
  SCHEDULE_NOT_FOUND: 404,
  OVERRIDE_NOT_FOUND: 404,
  ICAL_FEED_NOT_FOUND: 404,
  TEMPLATE_VARIABLE_MISSING: 400,
  IDEMPOTENCY_KEY_CONFLICT: 409,
  NOT_CANCELLABLE: 409,
  NOT_RETRYABLE: 409,
  SCHEDULE_IN_USE: 409,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMIT_EXCEEDED: 429,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
};

// Fastify's own errors, by its code, for the cases a client causes.
const fastifyCodes: Record<string, [ErrorCode, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ['PAYLOAD_TOO_LARGE', 'request body is larger than the limit'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['VALIDATION_ERROR', 'Content-Length does not match the body'],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['VALIDATION_ERROR', 'the body is empty but Content-Type says JSON'],
  FST_ERR_CTP_INVALID_JSON_BODY: ['VALIDATION_ERROR', 'the body is not valid JSON'],
  FST_ERR_CTP_INVALID_TYPE: ['UNSUPPORTED_MEDIA_TYPE', 'Content-Type is not valid'],
};

const codeByStatus: Record<number, ErrorCode> = {
  400: 'VALIDATION_ERROR',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  412: 'PRECONDITION_FAILED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMIT_EXCEEDED',
};

interface ValidationIssue {
  instancePath: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Names each bad field as a dotted path ("body.title", "querystring.limit"). */
function validationDetails(context: string | undefined, issues: ValidationIssue[]) {
  return issues.map((issue) => {
    const segments = issue.instancePath.split('/').filter(Boolean).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const missing = issue.params?.missingProperty;
    if (typeof missing === 'string') segments.push(missing);
    const extra = issue.params?.additionalProperty;
    if (typeof extra === 'string') segments.push(extra);
    const field = [context ?? 'body', ...segments].join('.');
    const message = typeof extra === 'string' ? 'is not a known field' : (issue.message ?? 'is invalid');
    return { field, message };
  });
}

export interface ErrorResponse {
  status: number;
  body: { code: string; message: string; request_id: string; details?: unknown };
}

export function toErrorResponse(thrown: unknown, requestId: string): ErrorResponse {
  // Reads (GET, lists, API keys) query outside a Transact, so their database errors arrive here
  // untranslated; input that trips a database rule is still the client's fault, not a 500.
  const error = translatePgError(thrown);
  if (error instanceof DomainError) {
    return {
      status: statusOf[error.code],
      body: { code: error.code, message: error.message, request_id: requestId, ...(error.details === undefined ? {} : { details: error.details }) },
    };
  }
  const fastifyError = error as Partial<FastifyError> & { validation?: ValidationIssue[]; validationContext?: string };
  if (Array.isArray(fastifyError.validation)) {
    const details = validationDetails(fastifyError.validationContext, fastifyError.validation);
    return {
      status: 400,
      body: {
        code: 'VALIDATION_ERROR',
        message: `invalid request: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}`,
        request_id: requestId,
        details,
      },
    };
  }
  const known = fastifyError.code ? fastifyCodes[fastifyError.code] : undefined;
  if (known) {
    const [code, message] = known;
    return { status: statusOf[code], body: { code, message, request_id: requestId } };
  }
  if (error instanceof SyntaxError && (fastifyError.statusCode ?? 0) === 400) {
    return { status: 400, body: { code: 'VALIDATION_ERROR', message: 'the body is not valid JSON', request_id: requestId } };
  }
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return {
      status,
      body: { code: codeByStatus[status] ?? 'BAD_REQUEST', message: fastifyError.message ?? 'bad request', request_id: requestId },
    };
  }
  // Anything else is ours: log it in full, tell the client nothing about internals.
  return { status: 500, body: { code: 'INTERNAL_ERROR', message: 'internal error; quote the request_id when reporting it', request_id: requestId } };
}

export function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body } = toErrorResponse(error, request.id);
  // A 429 decided by a use case (sign-in throttling) says when to retry, as every 429 does.
  const retryAfter = (error as { details?: { retry_after_seconds?: unknown } })?.details?.retry_after_seconds;
  if (status === 429 && typeof retryAfter === 'number' && !reply.hasHeader('retry-after')) reply.header('retry-after', String(retryAfter));
  if (status >= 500) request.log.error({ err: error }, 'request failed');
  else request.log.info({ code: body.code, status }, body.message);
  return reply.code(status).send(body);
}

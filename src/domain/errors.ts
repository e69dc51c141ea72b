// The codes of SPEC section 2. The HTTP adapter maps each one to a status in one table
// (src/adapters/http/error-mapping.ts); nothing else decides statuses.
export type ErrorCode =
  | 'VALIDATION_ERROR'
  | 'INVALID_STATUS_TRANSITION'
  | 'UNAUTHORIZED'
  | 'INVALID_CREDENTIALS'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'INCIDENT_NOT_FOUND'
  | 'API_KEY_NOT_FOUND'
  | 'NOTIFICATION_NOT_FOUND'
  | 'BATCH_NOT_FOUND'
  | 'INTEGRATION_NOT_FOUND'
  | 'HEARTBEAT_NOT_FOUND'
  | 'TEMPLATE_NOT_FOUND'
  | 'USER_NOT_FOUND'
  | 'TEAM_NOT_FOUND'
  | 'ESCALATION_POLICY_NOT_FOUND'
  | 'SCHEDULE_NOT_FOUND'
  | 'OVERRIDE_NOT_FOUND'
  | 'ICAL_FEED_NOT_FOUND'
  | 'TEMPLATE_VARIABLE_MISSING'
  | 'IDEMPOTENCY_KEY_CONFLICT'
  | 'NOT_CANCELLABLE'
  | 'NOT_RETRYABLE'
  | 'SCHEDULE_IN_USE'
  | 'PRECONDITION_FAILED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'RATE_LIMIT_EXCEEDED'
  | 'SERVICE_UNAVAILABLE'
  | 'INTERNAL_ERROR';

export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DomainError';
    this.code = code;
    this.details = details;
  }
}

export const notFound = (
  thing: 'INCIDENT' | 'API_KEY' | 'TEMPLATE' | 'USER' | 'TEAM' | 'ESCALATION_POLICY' | 'SCHEDULE' | 'OVERRIDE' | 'ICAL_FEED',
  id: string,
): DomainError => new DomainError(`${thing}_NOT_FOUND`, `${thing.toLowerCase().replace('_', ' ')} ${id} does not exist`);

import Type, { type TSchema } from 'typebox';
import { DomainError } from '../../domain/errors.ts';

// Schemas shared by several routes. Route-specific schemas live beside their routes.

// The pattern as well as the format: the format alone accepts a `urn:uuid:` prefix PostgreSQL refuses.
export const Uuid = Type.String({ format: 'uuid', pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });
export const Timestamp = Type.String({ format: 'date-time' });
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const ErrorBody = Type.Object(
  {
    code: Type.String({ description: 'A stable, machine-readable code such as VALIDATION_ERROR' }),
    message: Type.String(),
    request_id: Type.String(),
    details: Type.Optional(Type.Unknown()),
  },
  { description: 'Every error has this shape (SPEC section 2)' },
);

/** The error responses a route can give, keyed by status, for the OpenAPI document. */
export function errors(...statuses: number[]): Record<number, typeof ErrorBody> {
  return Object.fromEntries(statuses.map((status) => [status, ErrorBody]));
}

export const IdParams = Type.Object({ id: Uuid });

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 512, description: 'next_cursor from the previous page' })),
};

/** The querystring of a list without filters: only limit and cursor. */
export const PageOnlyQuery = Type.Object(PageQuery, { additionalProperties: false });

export const Page = <T extends TSchema>(item: T) =>
  Type.Object({ data: Type.Array(item), next_cursor: Nullable(Type.String()) });

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Replays the first response for the same key and body' })),
  'x-idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Alias of Idempotency-Key' })),
});

export const toIso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

/** A date-time the schema let through but JavaScript cannot represent (a leap second, 23:59:60). */
export function instant(field: 'from' | 'to', value: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new DomainError('VALIDATION_ERROR', `querystring.${field} is not a date-time this API can use`, [
      { field: `querystring.${field}`, message: 'must be an ISO-8601 date-time without a leap second' },
    ]);
  }
  return date;
}

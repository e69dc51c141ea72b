import Type, { type TSchema } from 'typebox';

// Schemas shared by several routes. Route-specific schemas live beside their routes.

export const Uuid = Type.String({ format: 'uuid' });
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

export const Page = <T extends TSchema>(item: T) =>
  Type.Object({ data: Type.Array(item), next_cursor: Nullable(Type.String()) });

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Replays the first response for the same key and body' })),
  'x-idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Alias of Idempotency-Key' })),
});

export const toIso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

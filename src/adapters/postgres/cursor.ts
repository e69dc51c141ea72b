import { DomainError } from '../../domain/errors.ts';

// Opaque keyset cursors (SPEC section 2): the (created_at, id) of the last row of a page.
// Timestamps are stored with millisecond precision (timestamptz(3)), so a JS Date keeps them exact.

/** limit (1 to 500, the routes' schema checks it) and the next_cursor of the previous page. */
export interface PageFilter {
  limit: number;
  cursor?: string | undefined;
}

export interface Position {
  created_at: Date;
  id: string;
}

export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.created_at.toISOString(), position.id])).toString('base64url');
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function decodeCursor(cursor: string): Position {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string') {
      const createdAt = new Date(value[0]);
      if (!Number.isNaN(createdAt.getTime()) && uuidPattern.test(value[1])) return { created_at: createdAt, id: value[1] };
    }
  } catch {
    // fall through to the validation error
  }
  throw new DomainError('VALIDATION_ERROR', 'cursor is not one this API gave out', [
    { field: 'cursor', message: 'must be a next_cursor value from a previous page' },
  ]);
}

/** Splits one extra row off a `limit + 1` query into the next cursor. */
export function page<T extends Position>(rows: T[], limit: number): { data: T[]; next_cursor: string | null } {
  if (rows.length <= limit) return { data: rows, next_cursor: null };
  const data = rows.slice(0, limit);
  const last = data[data.length - 1]!;
  return { data, next_cursor: encodeCursor(last) };
}

/**
 * Opaque cursors for lists walked in another order than (created_at, id): the sort key of the
 * last row, as a short list of strings and numbers, checked against the kinds the list expects.
 */
export function encodeKeyCursor(values: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

export function decodeKeyCursor<const K extends readonly ('string' | 'integer')[]>(
  cursor: string,
  kinds: K,
): { [I in keyof K]: K[I] extends 'integer' ? number : string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === kinds.length &&
      value.every((v, i) => (kinds[i] === 'integer' ? Number.isSafeInteger(v) : typeof v === 'string' && v.length <= 300))
    ) {
      return value as { [I in keyof K]: K[I] extends 'integer' ? number : string };
    }
  } catch {
    // fall through to the validation error
  }
  throw new DomainError('VALIDATION_ERROR', 'cursor is not one this API gave out', [
    { field: 'cursor', message: 'must be a next_cursor value from a previous page' },
  ]);
}

/** Splits one extra row off a `limit + 1` query, with the next cursor made from the last row kept. */
export function pageBy<T>(rows: T[], limit: number, keyOf: (row: T) => readonly (string | number)[]): { data: T[]; next_cursor: string | null } {
  if (rows.length <= limit) return { data: rows, next_cursor: null };
  const data = rows.slice(0, limit);
  return { data, next_cursor: encodeKeyCursor(keyOf(data[data.length - 1]!)) };
}

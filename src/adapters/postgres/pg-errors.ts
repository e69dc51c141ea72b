import { DomainError } from '../../domain/errors.ts';

/**
 * The one place PostgreSQL error codes become domain errors (STYLE habit 6). Input that passed
 * schema validation can still trip a database rule (a value out of a column's range, an
 * invalid text representation); those are the client's fault, not a 500.
 */
export function translatePgError(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return error;
  switch (code) {
    case '22P02': // invalid_text_representation (a malformed uuid, say)
    case '22007': // invalid_datetime_format
    case '22008': // datetime_field_overflow
    case '22003': // numeric_value_out_of_range
    case '22001': // string_data_right_truncation
    case '23514': // check_violation
    case '22021': // character_not_in_repertoire (a NUL byte in text)
    case '22P05': // untranslatable_character (a \u0000 in jsonb)
    case '54000': // program_limit_exceeded (a tsvector or index row too large)
      return new DomainError('VALIDATION_ERROR', 'a value was not accepted by the database', [
        { field: (error as { column?: string }).column ?? 'body', message: (error as Error).message },
      ], { cause: error });
    case '23503': {
      // foreign_key_violation: a reference to something that does not exist (an incident_id, say).
      const column = /Key \(([a-z_]+)\)/.exec((error as { detail?: string }).detail ?? '')?.[1] ?? 'body';
      return new DomainError('VALIDATION_ERROR', `${column} refers to something that does not exist`, [
        { field: `body.${column}`, message: 'refers to something that does not exist' },
      ], { cause: error });
    }
    default:
      return error;
  }
}

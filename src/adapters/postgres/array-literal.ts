// PostgreSQL array literals ('{a,b,NULL}') for the delivery worker's statements, which pass a
// batch as columns of arrays (unnest). pg turns a JS array parameter into the same text, but
// element by element: a string concatenation, two regular expression replaces and, for a Date, a
// dozen small strings formatting it in local time. For a batch of 200 that was about a tenth of
// everything a delivering worker allocated (a sampling heap profile of a 20,000-job drain), and
// the worker's garbage collection is the largest part of its CPU beyond the sender baseline's.
// Written by hand because it is a few lines; the server parses the text as pg's would be parsed.

const needsEscape = /[\\"]/;
const escapes = /[\\"]/g;

/** A quoted element: inside double quotes, only a backslash and a double quote need escaping. */
function quoted(value: string): string {
  return needsEscape.test(value) ? `"${value.replace(escapes, '\\$&')}"` : `"${value}"`;
}

/** text[] or uuid[] (cast it in the statement: `${textArray(ids)}::uuid[]`). */
export function textArray(values: readonly (string | null)[]): string {
  return `{${values.map((value) => (value === null ? 'NULL' : quoted(value))).join(',')}}`;
}

/** int[]: finite integers only, which is all the worker passes. */
export function intArray(values: readonly (number | null)[]): string {
  return `{${values
    .map((value) => {
      if (value === null) return 'NULL';
      if (!Number.isSafeInteger(value)) throw new TypeError(`not an integer: ${value}`);
      return String(value);
    })
    .join(',')}}`;
}

/**
 * timestamptz[], in UTC (ISO 8601, which PostgreSQL reads whatever the session's time zone). A
 * batch's outcomes share one Date (the moment they were decided), formatted once.
 */
export function timestampArray(values: readonly (Date | null)[]): string {
  let last: Date | undefined;
  let text = '';
  return `{${values
    .map((value) => {
      if (value === null) return 'NULL';
      if (value !== last) {
        last = value;
        text = value.toISOString();
      }
      return text;
    })
    .join(',')}}`;
}

// SPEC section 4: every attempt is recorded, whatever the receiver answers. What is stored of an
// answer (in the attempt, in `last_error` and on the timeline) is at most EXCERPT_BYTES of UTF-8,
// sanitized so that PostgreSQL accepts it in a text column and in jsonb: NUL (which neither
// accepts) and invalid sequences become U+FFFD, and the cut falls on a character boundary.

export const EXCERPT_BYTES = 1024;

const REPLACEMENT = '\uFFFD';
const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
const encoder = new TextEncoder();

/**
 * The stored form of text a receiver (or a library relaying it) produced. Bytes are decoded as
 * UTF-8 with each invalid sequence replaced; a string may still hold lone surrogates (a cut in the
 * middle of a pair), which are replaced too. The result is at most `maxBytes` bytes of UTF-8,
 * cut before the first character that would not fit whole.
 */
export function sanitizeExcerpt(input: string | Uint8Array, maxBytes = EXCERPT_BYTES): string {
  const text = typeof input === 'string' ? input.toWellFormed() : utf8.decode(input);
  const clean = text.includes('\0') ? text.replaceAll('\0', REPLACEMENT) : text;
  // Fast path: a short text cannot exceed the budget (a UTF-16 unit is at most 3 bytes of UTF-8).
  if (clean.length * 3 <= maxBytes) return clean;
  const bytes = encoder.encode(clean);
  if (bytes.length <= maxBytes) return clean;
  let end = maxBytes;
  // Back up to the start of the character the budget cuts through (continuation bytes are 10xxxxxx).
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return utf8.decode(bytes.subarray(0, end));
}

/** An error message with a prefix (such as `HTTP 500: `) and an excerpt of the answer after it. */
export function describeAnswer(prefix: string, answer: string | Uint8Array): string {
  const excerpt = sanitizeExcerpt(answer);
  return excerpt ? `${prefix}: ${excerpt}` : prefix;
}

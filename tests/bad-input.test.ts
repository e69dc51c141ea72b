import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

/**
 * Property-based robustness tests (SPEC section 2): no request, however malformed, gets a 500,
 * and every refusal is a 4xx in the one error shape {code, message, request_id, details?} whose
 * request_id is the response's X-Request-ID.
 */

let t: TestApp;
/** Incidents that exist, so that bodies and headers reach the database, not only the schema. */
let incidentIds: string[] = [];
const missingId = '00000000-0000-4000-8000-000000000000';

beforeAll(async () => {
  // The write rate limit would turn later runs into 429s and hide what they test.
  t = await startTestApp({ env: { RATE_LIMIT_MAX: '1000000' } });
  incidentIds = [];
  for (const title of ['Disk full', 'Queue backlog', 'Checkout errors']) {
    const created = await t.call({ method: 'POST', url: '/v1/incidents', payload: { title, severity: 'P2' } });
    expect(created.statusCode).toBe(201);
    incidentIds.push(created.json().id);
  }
});

afterAll(async () => {
  await t?.close();
});

type CallOptions = Parameters<TestApp['call']>[0];

const errorKeys = new Set(['code', 'message', 'request_id', 'details']);

function show(value: unknown, max = 300): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value);
  else if (Buffer.isBuffer(value)) text = `<${value.length} bytes ${value.subarray(0, 60).toString('hex')}>`;
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > max ? `${text.slice(0, max)}... (${text.length} chars)` : text;
}

function label(options: CallOptions): string {
  return `${options.method} ${show(options.url, 200)} headers=${show(options.headers ?? {}, 300)} payload=${show(options.payload)}`;
}

/** The contract every response keeps, whatever was sent. */
function expectWellFormed(response: LightMyRequestResponse, method: string, what: string): void {
  expect(response.statusCode, `${what} → ${response.statusCode} ${response.body.slice(0, 300)}`).toBeLessThan(500);
  const requestId = response.headers['x-request-id'];
  expect(typeof requestId, `${what}: x-request-id header`).toBe('string');
  expect(requestId as string, `${what}: x-request-id header`).toMatch(/^[\x21-\x7e]{1,128}$/);
  if (response.statusCode < 400 || method === 'HEAD') return;

  expect(String(response.headers['content-type']), `${what}: error content-type`).toMatch(/^application\/json/);
  let body: unknown;
  try {
    body = JSON.parse(response.body);
  } catch {
    throw new Error(`${what}: ${response.statusCode} body is not JSON: ${response.body.slice(0, 300)}`);
  }
  expect(body, `${what}: error body`).toBeTypeOf('object');
  expect(body, `${what}: error body`).not.toBeNull();
  const error = body as Record<string, unknown>;
  expect(error.code, `${what}: code in ${response.body.slice(0, 300)}`).toBeTypeOf('string');
  expect(error.code as string, `${what}: code`).toMatch(/^[A-Z][A-Z_]*[A-Z]$/);
  expect(error.message, `${what}: message`).toBeTypeOf('string');
  expect((error.message as string).length, `${what}: message`).toBeGreaterThan(0);
  expect(error.request_id, `${what}: request_id`).toBe(requestId);
  for (const key of Object.keys(error)) expect(errorKeys.has(key), `${what}: unexpected error field ${key}`).toBe(true);
}

async function send(options: CallOptions): Promise<LightMyRequestResponse> {
  const what = label(options);
  const response = await t.call(options);
  expectWellFormed(response, String(options.method), what);
  return response;
}

// BAD_INPUT_RUNS_FACTOR=20 (with --testTimeout=0) hunts longer than the suite's modest default.
const runsFactor = Math.max(1, Number(process.env.BAD_INPUT_RUNS_FACTOR) || 1);
const runs = (numRuns: number) => ({ numRuns: numRuns * runsFactor });

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const NUL = '\u0000';
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit));

/** Strings that have hurt services before: NUL, lone surrogates, BOMs, line separators, emoji. */
const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc
    .array(
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 4 }),
        fc.constant(NUL),
        loneSurrogate,
        fc.constantFrom('\\', '"', "'", '\n', '\r', '\t', '\u2028', '\u2029', '\ufeff', '\ufffe', '\u{1F525}', '\u{10FFFF}', ' ', '%', '<script>', '${x}', "';--"),
      ),
      { maxLength: 20 },
    )
    .map((parts) => parts.join('')),
  fc.constantFrom(
    '',
    ' ',
    '\t\n',
    NUL,
    `a${NUL}b`,
    `P1${NUL}`,
    `open${NUL}`,
    `${missingId}${NUL}`,
    '\ud800',
    '\udfff',
    'x\udc00y',
    '\ud83d',
    '\u{1F525}'.repeat(150),
    'é'.repeat(201),
  ),
);

/** Long strings, some long enough to pass no maxLength, all well under the 1 MiB body limit. */
const hugeString = fc.oneof(
  fc.constantFrom(199, 200, 201, 255, 256, 10_000, 10_001, 20_000, 20_001, 300_000),
  fc.integer({ min: 0, max: 250_000 }),
).chain((length) => fc.constantFrom('x', 'é', ' ', NUL, '\u{1F525}').map((unit) => unit.repeat(length)));

const weirdNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(1e308, -1e308, -0, 0, 5e-324, Number.MAX_SAFE_INTEGER + 2, -(2 ** 31) - 1, 2 ** 31, 2 ** 63, 2 ** 64, 1.5, 501, -1),
);

const uuidish = fc.oneof(
  fc.uuid(),
  fc.uuid({ version: [9, 10, 11, 12, 13, 14, 15] }),
  fc.stringMatching(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/),
  fc.uuid().map((uuid) => uuid.toUpperCase()),
  fc.uuid().map((uuid) => `urn:uuid:${uuid}`),
  fc.uuid().map((uuid) => `{${uuid}}`),
  fc.uuid().map((uuid) => uuid.replaceAll('-', '')),
  fc.uuid().map((uuid) => `${uuid}0`),
  fc.uuid().map((uuid) => uuid.slice(1)),
  fc.constantFrom(missingId, '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'gggggggg-gggg-gggg-gggg-gggggggggggg'),
);

/** Deeply nested arrays and objects (as values; see rawDeep for nesting beyond JSON.stringify). */
const deepValue = fc.tuple(fc.integer({ min: 1, max: 1_000 }), fc.boolean()).map(([depth, asObject]) => {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = asObject ? { title: value } : [value];
  return value;
});

/** Objects whose own keys are the prototype-pollution names. */
const pollution = fc.constantFrom(
  JSON.parse('{"__proto__":{"title":"polluted"}}') as unknown,
  JSON.parse('{"title":"x","constructor":{"prototype":{"admin":true}}}') as unknown,
  JSON.parse('{"title":"x","__proto__":null}') as unknown,
);

const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 3 },
  { arbitrary: nastyString, weight: 4 },
  { arbitrary: hugeString, weight: 1 },
  { arbitrary: weirdNumber, weight: 2 },
  { arbitrary: uuidish, weight: 2 },
  { arbitrary: deepValue, weight: 1 },
  { arbitrary: fc.array(nastyString, { maxLength: 5 }), weight: 1 },
  { arbitrary: fc.constantFrom(null, true, false, [], {}, [null], [[]], ['P1'], ['P1', 'P2']), weight: 2 },
);

/** Values that pass, or nearly pass, each known field's schema, so requests get past validation. */
const plausible: Record<string, fc.Arbitrary<unknown>> = {
  title: fc.oneof(fc.constantFrom('Disk full', ' ', 'x'.repeat(200), 'x'.repeat(201)), nastyString),
  description: fc.oneof(fc.constantFrom(null, 'details', 'x'.repeat(20_001)), nastyString),
  severity: fc.constantFrom('P1', 'P2', 'P3', 'P4', 'p1', 'P5', 'P0'),
  team_id: fc.oneof(fc.constant(null), uuidish),
  assignee_id: fc.oneof(fc.constant(null), uuidish),
  dedup_key: fc.oneof(fc.constantFrom(null, 'disk-full', '', 'x'.repeat(256)), nastyString),
  status: fc.constantFrom('open', 'acknowledged', 'resolved', 'closed', 'OPEN', 'resolved '),
  note: fc.oneof(fc.constantFrom('on it', '', 'x'.repeat(10_001)), nastyString),
  body: fc.oneof(fc.constantFrom('looking', '   ', 'x'.repeat(10_000), 'x'.repeat(10_001)), nastyString),
  name: fc.oneof(fc.constantFrom('ci', ' ', 'x'.repeat(201)), nastyString),
  scopes: fc.oneof(
    fc.constantFrom(['read'], ['write'], ['admin'], ['read', 'read'], ['read', 'write', 'admin', 'read'], [], ['root'], 'read'),
    fc.array(fc.oneof(fc.constantFrom('read', 'write', 'admin'), nastyString), { maxLength: 4 }),
  ),
};
const knownFields = Object.keys(plausible);

/** Every known field optional, each either plausible or any weird value: wrong types per field. */
const knownFieldsBody = fc.record(
  Object.fromEntries(
    knownFields.map((field) => [field, fc.oneof({ arbitrary: plausible[field]!, weight: 3 }, { arbitrary: weirdValue, weight: 2 })]),
  ) as Record<string, fc.Arbitrary<unknown>>,
  { requiredKeys: [] },
);

/** A body that is valid for the endpoint except, perhaps, for one field. */
function nearlyValid(base: Record<string, unknown>): fc.Arbitrary<Record<string, unknown>> {
  return fc.tuple(fc.constantFrom(...Object.keys(base)), weirdValue).map(([field, value]) => ({ ...base, [field]: value }));
}

function bodyFor(base: Record<string, unknown>): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.jsonValue(),
    fc.dictionary(fc.oneof(fc.string(), fc.constantFrom(...knownFields)), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }),
    knownFieldsBody,
    fc
      .tuple(knownFieldsBody, fc.dictionary(nastyString, weirdValue, { maxKeys: 3 }))
      .map(([known, extra]) => ({ ...extra, ...known })),
    nearlyValid(base),
    weirdValue,
    pollution,
  );
}

function hasPoisonKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Object.hasOwn(value, '__proto__')) return true;
  const constructor = Object.hasOwn(value, 'constructor') ? (value as { constructor: unknown }).constructor : undefined;
  if (typeof constructor === 'object' && constructor !== null && Object.hasOwn(constructor, 'prototype')) return true;
  return Object.values(value).some(hasPoisonKey);
}

interface BodyTarget {
  method: 'POST' | 'PATCH';
  path: string;
  url: (id: string) => string;
  valid: Record<string, unknown>;
}

const bodyTargets: BodyTarget[] = [
  { method: 'POST', path: '/v1/incidents', url: () => '/v1/incidents', valid: { title: 'Disk full', severity: 'P2', team_id: missingId } },
  { method: 'PATCH', path: '/v1/incidents/:id', url: (id) => `/v1/incidents/${id}`, valid: { title: 'Disk full', severity: 'P1', description: 'x' } },
  { method: 'PATCH', path: '/v1/incidents/:id/status', url: (id) => `/v1/incidents/${id}/status`, valid: { status: 'acknowledged', note: 'on it' } },
  { method: 'POST', path: '/v1/incidents/:id/comments', url: (id) => `/v1/incidents/${id}/comments`, valid: { body: 'looking' } },
  { method: 'POST', path: '/v1/api-keys', url: () => '/v1/api-keys', valid: { name: 'ci', scopes: ['read'] } },
];

const targetId = () => fc.constantFrom(...incidentIds, missingId);
const maybeIdempotencyKey = fc.option(fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 40 }), { nil: undefined });

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

describe('random JSON bodies', () => {
  for (const target of bodyTargets) {
    it(`${target.method} ${target.path} never answers 500`, async () => {
      await fc.assert(
        fc.asyncProperty(bodyFor(target.valid), targetId(), maybeIdempotencyKey, async (body, id, idempotencyKey) => {
          const response = await send({
            method: target.method,
            url: target.url(id),
            headers: { 'content-type': 'application/json', ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}) },
            payload: JSON.stringify(body),
          });
          if (response.statusCode === 400) {
            const error = response.json();
            expect(['VALIDATION_ERROR', 'INVALID_STATUS_TRANSITION']).toContain(error.code);
          }
        }),
        runs(150),
      );
    });
  }

  it('names the bad fields in details for a validation error', async () => {
    await fc.assert(
      fc.asyncProperty(knownFieldsBody, async (body) => {
        const response = await send({ method: 'POST', url: '/v1/incidents', payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
        // A `__proto__` key (or `constructor.prototype`) is refused by the JSON parser as a whole,
        // before any field is looked at; every other validation error names its fields.
        if (response.statusCode === 400 && response.json().code === 'VALIDATION_ERROR' && !hasPoisonKey(body)) {
          const details = response.json().details;
          expect(Array.isArray(details), show(response.json())).toBe(true);
          expect(details.length).toBeGreaterThan(0);
          for (const detail of details) {
            expect(detail.field).toBeTypeOf('string');
            expect(detail.message).toBeTypeOf('string');
          }
        }
      }),
      runs(100),
    );
  });
});

/** JSON text with nesting too deep for JSON.stringify's recursion on the client. */
const rawDeep = fc.tuple(fc.integer({ min: 1_000, max: 100_000 }), fc.constantFrom('array', 'object', 'unclosed')).map(([depth, kind]) => {
  if (kind === 'array') return `${'['.repeat(depth)}${']'.repeat(depth)}`;
  if (kind === 'object') return `${'{"title":'.repeat(depth)}"x"${'}'.repeat(depth)}`;
  return '['.repeat(depth);
});

const jsonText = fc.oneof(knownFieldsBody, fc.jsonValue()).map((value) => JSON.stringify(value));

const rawPayload: fc.Arbitrary<string | Buffer> = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  // Truncated JSON.
  jsonText.chain((text) => fc.nat({ max: text.length }).map((cut) => text.slice(0, cut))),
  // JSON with one character inserted or one removed.
  jsonText.chain((text) =>
    fc.tuple(fc.nat({ max: text.length }), fc.oneof(fc.constantFrom('', ',', '"', '{', '}', '[', ']', ':', '\\', NUL, '\ud800'), fc.string({ maxLength: 2 }))).map(
      ([at, insert]) => `${text.slice(0, at)}${insert}${text.slice(at + (insert === '' ? 1 : 0))}`,
    ),
  ),
  // Valid JSON text, then bytes that are not UTF-8.
  jsonText.chain((text) => fc.uint8Array({ minLength: 1, maxLength: 8 }).map((bytes) => Buffer.concat([Buffer.from(text), Buffer.from(bytes)]))),
  rawDeep,
  fc.constantFrom(
    '',
    ' ',
    '\n',
    'null',
    'true',
    '0',
    '-0',
    '"text"',
    '{',
    '}',
    '{"title":',
    '{"title":"Disk full"',
    '{"title":"Disk full",}',
    '{"title":"Disk full"}}',
    '{"title":"Disk full"}{"title":"again"}',
    "{'title':'single quotes'}",
    '{title:"unquoted"}',
    '{"title":"\\u0000"}',
    '{"title":"\\ud800"}',
    '{"title":"\\udc00\\ud800"}',
    '{"body":"\\u0000"}',
    '{"body":"\\ud800x"}',
    '{"name":"\\u0000","scopes":["read"]}',
    '{"title":"bad escape \\x41"}',
    '{"title":"\\u12"}',
    '{"title":-0}',
    '{"title":"x","severity":1e400}',
    '{"title":"x","severity":-1e400}',
    '{"title":1e308}',
    '{"title":NaN}',
    '{"title":Infinity}',
    '{"title":0x10}',
    '{"title":"x",}',
    '{"title":"x","title":"y"}',
    '{"__proto__":{"title":"x"}}',
    '{"title":"x","constructor":{"prototype":{"a":1}}}',
    '\ufeff{"title":"x"}',
    '{"title":"x"}\u0000',
    '[{"title":"x"}]',
    '{"status":"acknowledged","status":"resolved"}',
    '{"status":["acknowledged","resolved"]}',
    '{"scopes":"read","name":"x"}',
  ),
);

describe('raw payloads sent as application/json', () => {
  it('answer 4xx (or success), never 500, on every JSON endpoint', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...bodyTargets),
        targetId(),
        rawPayload,
        fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8'),
        async (target, id, payload, contentType) => {
          await send({ method: target.method, url: target.url(id), headers: { 'content-type': contentType }, payload });
        },
      ),
      runs(200),
    );
  });

  it('answer 400 VALIDATION_ERROR for text that is not JSON', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...bodyTargets),
        jsonText.chain((text) => fc.integer({ min: 0, max: Math.max(0, text.length - 1) }).map((cut) => text.slice(0, cut))),
        async (target, truncated) => {
          fc.pre(!isJson(truncated));
          const response = await send({ method: target.method, url: target.url(incidentIds[0]!), headers: { 'content-type': 'application/json' }, payload: truncated });
          const tooLarge = Buffer.byteLength(truncated) > 1024 * 1024;
          expect(response.statusCode).toBe(tooLarge ? 413 : 400);
          expect(response.json().code).toBe(tooLarge ? 'PAYLOAD_TOO_LARGE' : 'VALIDATION_ERROR');
        },
      ),
      runs(100),
    );
  });
});

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

// Query strings ---------------------------------------------------------------------------------

/**
 * encodeURIComponent, except that a lone surrogate (which it refuses) is sent as the bytes a
 * careless client would send for it (WTF-8, e.g. %ED%A0%80), which are not UTF-8.
 */
function encode(text: string): string {
  let out = '';
  for (const char of text) {
    const unit = char.codePointAt(0)!;
    if (unit >= 0xd800 && unit <= 0xdfff) {
      out += [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)].map((byte) => `%${byte.toString(16).toUpperCase()}`).join('');
    } else out += encodeURIComponent(char);
  }
  return out;
}

/** Characters that can appear raw in a request target, beside percent-encoded ones. */
const urlSafeChar = fc.constantFrom(...'abcXYZ019-._~!$\'()*,;:@/?'.split(''));
const percentGarbage = fc.constantFrom('%', '%%', '%zz', '%2', '%00', '%ff', '%FF%FE', '%E0%A4%A', '%C0%AF', '%ED%A0%80', '%F4%90%80%80', '%0A', '%0D%0A', '%20', '+', '=', '&', '[]', '[0]', '[a]=', '%5B%5D', '%26', '%3D');

/** A key or value as it appears in the URL: encoded, raw-safe or percent garbage. */
const urlPiece = (decoded: fc.Arbitrary<string>) =>
  fc.oneof(
    { arbitrary: decoded.map((value) => encode(value)), weight: 5 },
    { arbitrary: fc.array(fc.oneof(urlSafeChar, percentGarbage), { maxLength: 8 }).map((parts) => parts.join('')), weight: 2 },
    { arbitrary: fc.tuple(decoded, percentGarbage).map(([value, garbage]) => `${encode(value)}${garbage}`), weight: 1 },
  );

const twoDigits = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));

/** Timestamps that look like ISO-8601 but are often not valid dates (Feb 30, hour 24, leap seconds). */
const dateLike = fc.oneof(
  fc
    .tuple(
      fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
      twoDigits(13),
      twoDigits(32),
      twoDigits(25),
      twoDigits(61),
      twoDigits(61),
      fc.constantFrom('Z', 'z', '+00:00', '-23:59', '+24:00', '+14:00', '+99:99', '', '.123Z', '.123456789Z', 'T'),
      fc.constantFrom('T', 't', ' '),
    )
    .map(([y, mo, d, h, mi, s, zone, sep]) => `${y}-${mo}-${d}${sep}${h}:${mi}:${s}${zone}`),
  fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
  fc.constantFrom(
    'yesterday',
    'now',
    '',
    '2024-02-30T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2024-13-01T00:00:00Z',
    '2024-06-30T23:59:60Z',
    '2016-12-31T23:59:60Z',
    '2024-01-01T24:00:00Z',
    '0000-01-01T00:00:00Z',
    '0001-01-01T00:00:00+14:00',
    '9999-12-31T23:59:59-14:00',
    '9999-12-31T23:59:60Z',
    '+275760-09-13T00:00:00.000Z',
    '-271821-04-20T00:00:00.000Z',
    '2024-01-01',
    '2024-01-01T00:00:00',
    '1e308',
    '-0',
    'NaN',
    'Infinity',
    '1700000000',
  ),
);

const cursorLike = fc.oneof(
  fc.string(),
  fc.base64String({ maxLength: 200 }),
  fc.jsonValue().map((value) => Buffer.from(JSON.stringify(value)).toString('base64url')),
  fc.tuple(dateLike, uuidish).map((pair) => Buffer.from(JSON.stringify(pair)).toString('base64url')),
  fc.tuple(fc.oneof(fc.string(), fc.integer()), fc.oneof(uuidish, fc.string())).map((pair) => Buffer.from(JSON.stringify(pair)).toString('base64url')),
  fc.uint8Array({ maxLength: 100 }).map((bytes) => Buffer.from(bytes).toString('base64url')),
  fc.constantFrom('garbage', '', '=', '====', 'W10', 'bnVsbA', 'x'.repeat(513), Buffer.from(`["2024-01-01T00:00:00Z","${missingId}",3]`).toString('base64url')),
);

const limitLike = fc.oneof(
  fc.integer().map(String),
  fc.double().map(String),
  fc.constantFrom('0', '1', '500', '501', '-1', '1e3', '1.5', '0x10', '', ' 5', '5 ', '9'.repeat(400), 'NaN', 'true', 'null', '[]', '50,60'),
);

const listKeys = ['status', 'severity', 'team_id', 'q', 'from', 'to', 'limit', 'cursor'] as const;
const valueFor: Record<(typeof listKeys)[number], fc.Arbitrary<string>> = {
  status: fc.oneof(fc.constantFrom('open', 'acknowledged', 'resolved', 'closed', 'OPEN'), nastyString),
  severity: fc.oneof(fc.constantFrom('P1', 'P2', 'P3', 'P4', 'P5', 'p1'), nastyString),
  team_id: fc.oneof(uuidish, nastyString),
  q: fc.oneof(
    nastyString,
    fc.constantFrom('disk', '"disk full"', '-disk', 'disk OR queue', '!:*&|()', '\'', 'a & b', ':*', '<->', 'x'.repeat(200), 'x'.repeat(201), `disk${NUL}`),
  ),
  from: dateLike,
  to: dateLike,
  limit: limitLike,
  cursor: cursorLike,
};

const queryPair = fc.oneof(
  { arbitrary: fc.constantFrom(...listKeys).chain((key) => valueFor[key].map((value) => [key, value] as const)), weight: 4 },
  { arbitrary: fc.tuple(nastyString, fc.oneof(nastyString, dateLike)), weight: 1 },
);

const queryString = fc.oneof(
  // Well-encoded pairs (random keys, repeated keys, any values).
  fc.array(queryPair, { maxLength: 6 }).map((pairs) => pairs.map(([key, value]) => `${encode(key)}=${encode(value)}`).join('&')),
  // Pairs with percent-encoding garbage, missing '=' and empty parts.
  fc
    .array(
      fc.tuple(urlPiece(fc.constantFrom(...listKeys)), fc.constantFrom('=', '', '=='), urlPiece(fc.oneof(nastyString, dateLike, limitLike, cursorLike))),
      { maxLength: 6 },
    )
    .map((pairs) => pairs.map(([key, eq, value]) => `${key}${eq}${value}`).join('&')),
  fc.constantFrom('', '&', '&&&', '=', '==&==', '?', '??status=open', 'limit', 'limit=', 'limit=1&limit=2', 'status=open&status=resolved', 'q=', `q=%00`, 'q=%ED%A0%80', 'from=2024-06-30T23:59:60Z', 'to=2016-12-31T23:59:60Z', 'from=0000-01-01T00:00:00Z'),
);

describe('random query strings for GET /v1/incidents', () => {
  it('answer 200 or 400, never 500', async () => {
    await fc.assert(
      fc.asyncProperty(queryString, fc.constantFrom('admin', 'read'), async (query, as) => {
        const response = await send({ method: 'GET', url: `/v1/incidents?${query}`, as });
        expect([200, 400], `${query} → ${response.statusCode}`).toContain(response.statusCode);
        if (response.statusCode === 200) {
          const page = response.json();
          expect(Array.isArray(page.data)).toBe(true);
        }
      }),
      runs(200),
    );
  });

  it('answer 400 for a limit out of range and for a cursor this API did not give out', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 501 })).map((limit) => `limit=${limit}`),
        cursorLike.map((cursor) => `cursor=${encode(cursor)}`),
        async (limit, cursor) => {
          expect((await send({ method: 'GET', url: `/v1/incidents?${limit}` })).statusCode).toBe(400);
          const paged = await send({ method: 'GET', url: `/v1/incidents?${cursor}` });
          expect([200, 400]).toContain(paged.statusCode);
        },
      ),
      runs(100),
    );
  });
});

// Path ids --------------------------------------------------------------------------------------

const pathId = fc.oneof(
  fc.string({ minLength: 1 }).map((id) => encode(id)),
  fc.string({ unit: 'binary', minLength: 1 }).map((id) => encode(id)),
  uuidish.map((id) => encode(id)),
  nastyString.filter((id) => id.length > 0).map((id) => encode(id)),
  fc.array(fc.oneof(urlSafeChar, percentGarbage), { minLength: 1, maxLength: 10 }).map((parts) => parts.join('').replaceAll('?', '')),
  fc.integer({ min: 37, max: 20_000 }).map((length) => 'a'.repeat(length)),
  fc.constantFrom('nope', '0', '-1', '..', '.', '%2e%2e', 'null', 'undefined', '%00', `${missingId}%00`, `${missingId}%20`, `%20${missingId}`, `urn:uuid:${missingId}`, `%7B${missingId}%7D`, `${missingId.toUpperCase()}`, `${missingId}/`, `${missingId};x=1`),
);

const idRoutes: { method: 'GET' | 'PATCH' | 'DELETE' | 'POST'; url: (id: string) => string; payload?: object }[] = [
  { method: 'GET', url: (id) => `/v1/incidents/${id}` },
  { method: 'GET', url: (id) => `/v1/incidents/${id}/events` },
  { method: 'PATCH', url: (id) => `/v1/incidents/${id}`, payload: { title: 'renamed' } },
  { method: 'PATCH', url: (id) => `/v1/incidents/${id}/status`, payload: { status: 'acknowledged' } },
  { method: 'DELETE', url: (id) => `/v1/incidents/${id}` },
  { method: 'POST', url: (id) => `/v1/incidents/${id}/comments`, payload: { body: 'looking' } },
  { method: 'DELETE', url: (id) => `/v1/api-keys/${id}` },
];

describe('random path ids', () => {
  it('answer 400 or 404, never 500', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...idRoutes), pathId, async (route, id) => {
        const response = await send({ method: route.method, url: route.url(id), ...(route.payload ? { payload: route.payload } : {}) });
        // None of these names an incident that exists; 414 is for ids over the router's 100-character limit.
        expect([400, 404, 414], `${route.method} ${route.url(id).slice(0, 120)} → ${response.statusCode}`).toContain(response.statusCode);
      }),
      runs(200),
    );
  });
});

// Headers ---------------------------------------------------------------------------------------

/**
 * Header values as Node's HTTP parser can deliver them: tab, visible ASCII, space and obs-text
 * (bytes 0x80-0xff, which arrive as latin1 characters). UTF-8 text therefore arrives as mojibake.
 */
const headerChar = fc.oneof(
  { arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), weight: 8 },
  { arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)), weight: 1 },
  { arbitrary: fc.constant('\t'), weight: 1 },
);
const headerValue = fc.oneof(
  fc.string({ unit: headerChar, maxLength: 60 }),
  fc.constantFrom(0, 1, 200, 255, 256, 1000, 10_000).map((length) => 'k'.repeat(length)),
  fc.constantFrom('', ' ', '\t', 'ключ', '鍵', 'clé', '🔑').map((text) => Buffer.from(text).toString('latin1')),
);

const etagGarbage = fc.oneof(
  headerValue,
  fc.constantFrom('*', '"1"', 'W/"1"', '"1", "2"', '"garbage', '"-1"', '"0"', '"1.5"', '"99999999999999999999"', '"1e3"', ',,,', '"", ""', '*, "1"', 'W/', '"2147483648"', '"999999999"'),
);

const authorizationGarbage = fc.oneof(
  headerValue,
  headerValue.map((value) => `Bearer ${value}`),
  fc.constantFrom('Bearer', 'Bearer ', 'bearer', 'Basic dXNlcjpwYXNz', 'Bearer tsn_', 'Bearer tsn_' + 'A'.repeat(43), 'Bearer ' + 'x'.repeat(10_000), 'Bearer a b', 'Token abc'),
);

const saneRequestId = fc.stringMatching(/^[A-Za-z0-9-]{1,64}$/);
const insaneRequestId = fc.oneof(
  fc.constant(''),
  fc.string({ unit: headerChar, minLength: 1, maxLength: 30 }).filter((value) => /[\s\u0080-\u00ff"<>{}]/.test(value)),
  fc.integer({ min: 200, max: 5_000 }).map((length) => 'r'.repeat(length)),
  fc.constantFrom('a b', '<script>', 'id\twith\ttabs', '"quoted"', Buffer.from('ид').toString('latin1')),
);

interface Operation {
  name: string;
  options: () => CallOptions;
}

const operations: Operation[] = [
  { name: 'create incident', options: () => ({ method: 'POST', url: '/v1/incidents', payload: { title: 'Disk full' } }) },
  { name: 'list incidents', options: () => ({ method: 'GET', url: '/v1/incidents?limit=2' }) },
  { name: 'get incident', options: () => ({ method: 'GET', url: `/v1/incidents/${incidentIds[0]}` }) },
  { name: 'patch incident', options: () => ({ method: 'PATCH', url: `/v1/incidents/${incidentIds[1]}`, payload: { description: 'patched' } }) },
  { name: 'change status', options: () => ({ method: 'PATCH', url: `/v1/incidents/${incidentIds[2]}/status`, payload: { status: 'open' } }) },
  { name: 'comment', options: () => ({ method: 'POST', url: `/v1/incidents/${incidentIds[0]}/comments`, payload: { body: 'looking' } }) },
  { name: 'create api key', options: () => ({ method: 'POST', url: '/v1/api-keys', payload: { name: 'ci', scopes: ['read'] } }) },
];

describe('random headers', () => {
  it('Idempotency-Key, If-Match, If-None-Match and Authorization garbage never gives a 500', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...operations),
        fc.constantFrom('admin', 'write', 'read', null),
        fc.record(
          {
            'idempotency-key': headerValue,
            'x-idempotency-key': headerValue,
            'if-match': etagGarbage,
            'if-none-match': etagGarbage,
            authorization: authorizationGarbage,
          },
          { requiredKeys: [] },
        ),
        async (operation, as, headers) => {
          await send({ ...operation.options(), as, headers });
        },
      ),
      runs(200),
    );
  });

  it('refuses a malformed Idempotency-Key with 400, naming the header', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constant(''), fc.constant('k'.repeat(256)), fc.constant('k'.repeat(1000)), fc.string({ unit: headerChar, minLength: 1, maxLength: 30 }).filter((key) => /[\s\u0080-\u00ff]/.test(key))),
        fc.constantFrom('idempotency-key', 'x-idempotency-key'),
        async (key, header) => {
          const response = await send({ method: 'POST', url: '/v1/incidents', headers: { [header]: key }, payload: { title: 'Disk full' } });
          expect(response.statusCode, show(key)).toBe(400);
          expect(response.json().code).toBe('VALIDATION_ERROR');
        },
      ),
      runs(100),
    );
  });

  it('answers 401 for a missing or garbage Authorization', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...operations), fc.option(authorizationGarbage, { nil: undefined }), async (operation, authorization) => {
        const response = await send({ ...operation.options(), as: null, headers: authorization === undefined ? {} : { authorization } });
        expect(response.statusCode).toBe(401);
        expect(response.json().code).toBe('UNAUTHORIZED');
      }),
      runs(100),
    );
  });

  it('echoes a sane X-Request-ID and replaces a garbage one with a generated id', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...operations),
        fc.oneof(saneRequestId.map((id) => ({ id, sane: true })), insaneRequestId.map((id) => ({ id, sane: false }))),
        fc.constantFrom('admin', null),
        async (operation, { id, sane }, as) => {
          const response = await send({ ...operation.options(), as, headers: { 'x-request-id': id } });
          const echoed = response.headers['x-request-id'];
          if (sane) expect(echoed).toBe(id);
          else {
            expect(echoed).not.toBe(id);
            expect(echoed).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
          }
        },
      ),
      runs(150),
    );
  });

  it('gives every request its own generated id when none is sent', async () => {
    const ids = new Set<string>();
    for (const operation of operations) {
      const response = await send({ ...operation.options(), as: null });
      ids.add(response.headers['x-request-id'] as string);
    }
    expect(ids.size).toBe(operations.length);
  });
});

// Content types and size ------------------------------------------------------------------------

const wrongContentTypes = [
  'text/plain',
  'text/plain; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=----tocsin',
  'application/xml',
  'text/html',
  'application/octet-stream',
  'application/jsonp',
  'text/json',
  'image/png',
];

describe('content types', () => {
  it('answers 415 or 400 for a body that is not sent as JSON, never 500', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...bodyTargets),
        fc.option(fc.constantFrom(...wrongContentTypes), { nil: undefined }),
        fc.oneof(
          fc.constant('{"title":"Disk full","status":"acknowledged","body":"x","name":"n","scopes":["read"]}'),
          fc.constant('title=Disk+full&severity=P1'),
          fc.constant('------tocsin\r\nContent-Disposition: form-data; name="title"\r\n\r\nDisk full\r\n------tocsin--\r\n'),
          fc.string({ minLength: 1 }),
        ),
        async (target, contentType, payload) => {
          const response = await send({
            method: target.method,
            url: target.url(incidentIds[0]!),
            headers: contentType === undefined ? {} : { 'content-type': contentType },
            payload,
          });
          expect([400, 415], `${contentType} → ${response.statusCode}`).toContain(response.statusCode);
          if (contentType !== undefined) {
            expect(response.statusCode).toBe(415);
            expect(response.json().code).toBe('UNSUPPORTED_MEDIA_TYPE');
          }
        },
      ),
      runs(100),
    );
  });

  it('never answers 500 for a random Content-Type', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...bodyTargets),
        fc.oneof(
          fc.string({ unit: headerChar, maxLength: 60 }),
          fc.constantFrom('', ';', 'application/', '/json', '*/*', 'application/*', 'APPLICATION/JSON', 'application/json; charset=latin1', 'application/json; charset=utf-16', 'application/json; charset=', 'application/json;;', 'application/json, text/plain', 'application/vnd.api+json', 'application/problem+json', 'application/json-patch+json', 'application/merge-patch+json'),
        ),
        async (target, contentType) => {
          await send({ method: target.method, url: target.url(incidentIds[0]!), headers: { 'content-type': contentType }, payload: JSON.stringify(target.valid) });
        },
      ),
      runs(150),
    );
  });

  it('answers 413 PAYLOAD_TOO_LARGE for a body over 1 MiB, and not for one at the limit', async () => {
    const limit = 1024 * 1024;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...bodyTargets),
        fc.oneof(fc.constantFrom(limit, limit + 1), fc.integer({ min: limit - 100, max: limit + 2 * limit })),
        fc.constantFrom('application/json', 'text/plain', undefined),
        async (target, size, contentType) => {
          const json = `{"title":"${'x'.repeat(Math.max(0, size - 13))}"}`;
          const payload = Buffer.alloc(size, ' ');
          payload.write(json.slice(0, size));
          const response = await send({
            method: target.method,
            url: target.url(incidentIds[0]!),
            headers: contentType === undefined ? {} : { 'content-type': contentType },
            payload,
          });
          if (contentType === 'application/json') {
            if (size > limit) {
              expect(response.statusCode, `${size} bytes`).toBe(413);
              expect(response.json().code).toBe('PAYLOAD_TOO_LARGE');
            } else {
              expect(response.statusCode, `${size} bytes`).toBe(400);
              expect(response.json().code).toBe('VALIDATION_ERROR');
            }
          } else {
            expect([400, 413, 415]).toContain(response.statusCode);
          }
        },
      ),
      runs(25),
    );
  });
});

// Methods and unknown routes ----------------------------------------------------------------------

describe('methods and routes', () => {
  it('answers unknown routes and methods with a 4xx in the error shape', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'),
        fc.oneof(
          fc.constantFrom('/v1/incidents', `/v1/incidents/${missingId}`, `/v1/incidents/${missingId}/status`, `/v1/incidents/${missingId}/comments`, '/v1/api-keys', `/v1/api-keys/${missingId}`, '/v1', '/v2/incidents', '/', '/v1/incidents/', '//v1//incidents', '/V1/INCIDENTS'),
          fc.array(fc.oneof(urlSafeChar, percentGarbage), { maxLength: 12 }).map((parts) => `/v1/${parts.join('')}`),
        ),
        fc.constantFrom('admin', 'read', null),
        async (method, url, as) => {
          await send({ method, url, as, ...(method === 'GET' || method === 'HEAD' ? {} : { payload: {} }) });
        },
      ),
      runs(150),
    );
  });
});

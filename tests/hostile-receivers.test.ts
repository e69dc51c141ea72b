// SPEC section 4, "every attempt is recorded, whatever the receiver answers" (issue 9): webhook
// receivers that answer with NUL bytes, invalid UTF-8, 10 MB, an emoji cut in two, nothing at all,
// a reset, a redirect to a private address, a 429 asking for centuries, or a body one byte a
// second. For each: the notification ends sent or failed within its retry budget, every request
// the receiver saw is one attempt (numbered as the request said), and what is stored of the answer
// is clean, bounded UTF-8, on the notification, its attempts and the incident's timeline.
import { Buffer } from 'node:buffer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answer, answerHuge, startHostileReceiver, trickle, type Behaviour, type HostileReceiver } from './helpers/hostile-receiver.ts';
import { eventually } from './helpers/receivers.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

const emoji = Buffer.from('😀', 'utf8'); // F0 9F 98 80

interface Scenario {
  behaviour: Behaviour;
  max_retries: number;
  /** How it must end, and after how many attempts. */
  ends: 'sent' | 'failed';
  attempts: number;
}

let trap: HostileReceiver;

const scenarios: Record<string, Scenario> = {
  'NUL bytes in a 500': { behaviour: (s) => answer(s, 500, Buffer.from('boom\0with\0NUL\0bytes')), max_retries: 1, ends: 'failed', attempts: 2 },
  'invalid UTF-8 in a 500': {
    behaviour: (s, i) => (i === 0 ? answer(s, 500, Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82])) : answer(s, 200, '{}')),
    max_retries: 2, ends: 'sent', attempts: 2,
  },
  'a 10 MB body': { behaviour: (s, i) => (i === 0 ? answerHuge(s, 500, 10 * 1024 * 1024) : answerHuge(s, 200, 10 * 1024 * 1024)), max_retries: 2, ends: 'sent', attempts: 2 },
  'an emoji cut at the 200th byte': {
    behaviour: (s) => answer(s, 503, Buffer.concat([Buffer.alloc(198, 'x'), emoji.subarray(0, 2)])),
    max_retries: 0, ends: 'failed', attempts: 1,
  },
  'an emoji across the 1024th byte': {
    behaviour: (s) => answer(s, 500, Buffer.concat([Buffer.alloc(1022, 'y'), emoji, Buffer.alloc(50, 'z')])),
    max_retries: 0, ends: 'failed', attempts: 1,
  },
  'a connection that never answers': { behaviour: (s, i) => (i === 0 ? undefined : answer(s, 200, '{}')), max_retries: 1, ends: 'sent', attempts: 2 },
  'a reset': { behaviour: (s, i) => (i === 0 ? s.resetAndDestroy() : answer(s, 204)), max_retries: 1, ends: 'sent', attempts: 2 },
  'a 301 to a private address': {
    behaviour: (s) => answer(s, 301, 'moved', { location: `${trap.url}/latest/meta-data/iam` }),
    max_retries: 3, ends: 'failed', attempts: 1,
  },
  'a 429 with a huge Retry-After': {
    behaviour: (s, i) => (i === 0 ? answer(s, 429, 'slow down', { 'retry-after': '99999999999' }) : answer(s, 200, '{}')),
    max_retries: 1, ends: 'sent', attempts: 2,
  },
  'a body that trickles a byte a second': { behaviour: (s, i) => (i === 0 ? trickle(s, 500, 1000) : answer(s, 200, '{}')), max_retries: 1, ends: 'sent', attempts: 2 },
};

let t: TestApp;
let incidentId: string;
const receivers = new Map<string, HostileReceiver>();
const ids = new Map<string, string>();

beforeAll(async () => {
  t = await startTestApp({
    role: 'all',
    env: {
      ALLOW_PRIVATE_TARGETS: 'true',
      RATE_LIMIT_MAX: '100000',
      RETRY_BACKOFF: '100ms',
      RETRY_AFTER_MAX_SECONDS: '1',
      // One notification per batch, so a receiver that holds its request for 10 s holds no other.
      WORKER_BATCH_SIZE: '1',
      WORKER_CONCURRENCY: '12',
    },
  });
  trap = await startHostileReceiver((s) => answer(s, 200, 'the metadata service'));
  for (const [name, scenario] of Object.entries(scenarios)) receivers.set(name, await startHostileReceiver(scenario.behaviour));
  const incident = await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'hostile receivers' } });
  incidentId = incident.json().id;
  const notifications = Object.entries(scenarios).map(([name, scenario]) => ({
    channel: 'webhook',
    recipient: `${receivers.get(name)!.url}/hook`,
    content: name,
    max_retries: scenario.max_retries,
    incident_id: incidentId,
  }));
  const response = await t.call({ method: 'POST', url: '/v1/notifications/batch', payload: { notifications } });
  expect(response.statusCode, response.body).toBe(201);
  Object.keys(scenarios).forEach((name, index) => ids.set(name, response.json().ids[index]));
}, 60_000);

afterAll(async () => {
  await Promise.all([...receivers.values(), trap].filter(Boolean).map((r) => r.close()));
  await t?.close();
});

const ended = (name: string) =>
  eventually(async () => {
    const n = (await t.call({ method: 'GET', url: `/v1/notifications/${ids.get(name)}` })).json();
    return n.status === 'sent' || n.status === 'failed' ? n : undefined;
  }, 45_000, `${name} to end`);

/** Stored text must be what PostgreSQL keeps and a client can show: no NUL, no lone surrogate, bounded. */
function expectClean(text: string | null | undefined) {
  if (text === null || text === undefined) return;
  expect(text).not.toContain('\0');
  expect(text.isWellFormed()).toBe(true);
  expect(Buffer.byteLength(text)).toBeLessThanOrEqual(1024 + 128);
}

describe.each(Object.keys(scenarios))('a receiver answering with %s', (name) => {
  it('ends within its retry budget, every request it saw recorded once as an attempt', async () => {
    const scenario = scenarios[name]!;
    const n = await ended(name);
    const receiver = receivers.get(name)!;
    expect(n.status).toBe(scenario.ends);
    expect(n.attempts.map((a: { attempt: number }) => a.attempt)).toEqual(Array.from({ length: scenario.attempts }, (_, i) => i + 1));
    expect(n.retry_count).toBeLessThanOrEqual(scenario.max_retries);
    // Nothing more arrives later: each request the receiver saw is one attempt.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.requests).toHaveLength(scenario.attempts);
    // Each request carried the number it is stored under.
    expect(receiver.requests.map((r) => JSON.parse(r.body).attempt)).toEqual(n.attempts.map((a: { attempt: number }) => a.attempt));
    for (const a of n.attempts) expectClean(a.error);
    expectClean(n.last_error);
    if (scenario.ends === 'failed') expect(n.last_error).toBe(n.attempts.at(-1).error);
  }, 60_000);
});

describe('what is stored of the answers', () => {
  const firstError = async (name: string) => (await ended(name)).attempts[0].error as string;

  it('replaces NUL bytes and invalid UTF-8 with U+FFFD, and keeps the rest', async () => {
    expect(await firstError('NUL bytes in a 500')).toBe('HTTP 500: boom\uFFFDwith\uFFFDNUL\uFFFDbytes');
    expect(await firstError('invalid UTF-8 in a 500')).toMatch(/^HTTP 500: bad\uFFFD+\(\uFFFD+$/);
  });

  it('keeps an emoji cut by the receiver as U+FFFD, and cuts before a character that does not fit', async () => {
    expect(await firstError('an emoji cut at the 200th byte')).toBe(`HTTP 503: ${'x'.repeat(198)}\uFFFD`);
    // 1022 bytes of "y", then a 4-byte emoji that would end at byte 1026: the excerpt stops before it.
    expect(await firstError('an emoji across the 1024th byte')).toBe(`HTTP 500: ${'y'.repeat(1022)}`);
  });

  it('reads 10 MB only up to its bound and says the answer was cut', async () => {
    const error = await firstError('a 10 MB body');
    expect(error).toMatch(/^HTTP 500 \[answer cut: longer than 65536 bytes\]: x+$/);
    expect(Buffer.byteLength(error.split(': ').at(-1)!)).toBe(1024);
  });

  it('gives up on a silent receiver after 10 s, and on a trickling body at 10 s too', async () => {
    const silent = (await ended('a connection that never answers')).attempts[0];
    expect(silent.error).toBe('timeout: no answer within 10 s');
    expect(silent.duration_ms).toBeGreaterThanOrEqual(9_500);
    expect(silent.duration_ms).toBeLessThan(15_000);
    const slow = (await ended('a body that trickles a byte a second')).attempts[0];
    expect(slow.status_code).toBe(500);
    expect(slow.error).toMatch(/^HTTP 500 \[answer cut: body not finished within 10 s\]: \.+$/);
    expect(slow.duration_ms).toBeLessThan(15_000);
  });

  it('records a reset as a transient failure', async () => {
    const reset = (await ended('a reset')).attempts[0];
    expect(reset.outcome).toBe('retry');
    expect(reset.error).toMatch(/ECONNRESET|UND_ERR_SOCKET|other side closed|socket/i);
  });

  it('never follows a redirect: a 301 fails at once, naming its Location, and the private address is never called', async () => {
    const n = await ended('a 301 to a private address');
    expect(n.attempts[0].status_code).toBe(301);
    expect(n.attempts[0].outcome).toBe('failed');
    expect(n.attempts[0].error).toBe(`HTTP 301: redirect to ${trap.url}/latest/meta-data/iam not followed (redirects are refused)`);
    expect(trap.requests).toHaveLength(0);
  });

  it('caps a huge Retry-After at RETRY_AFTER_MAX_SECONDS', async () => {
    const n = await ended('a 429 with a huge Retry-After');
    expect(n.attempts[0].status_code).toBe(429);
    const gap = Date.parse(n.attempts[1].at) - Date.parse(n.attempts[0].at);
    expect(gap).toBeGreaterThanOrEqual(900);
    expect(gap).toBeLessThan(30_000);
  });

  it('puts the same clean text on the incident timeline', async () => {
    for (const name of Object.keys(scenarios)) await ended(name);
    const events = (await t.call({ method: 'GET', url: `/v1/incidents/${incidentId}/events` })).json().data as { type: string; data: { notification_id: string; error?: string } }[];
    const outcomes = events.filter((e) => e.type === 'notification.sent' || e.type === 'notification.failed');
    expect(outcomes).toHaveLength(Object.keys(scenarios).length);
    const nul = outcomes.find((e) => e.data.notification_id === ids.get('NUL bytes in a 500'))!;
    expect(nul.type).toBe('notification.failed');
    expect(nul.data.error).toBe('HTTP 500: boom\uFFFDwith\uFFFDNUL\uFFFDbytes');
    for (const e of outcomes) expectClean(e.data.error);
    const incident = (await t.call({ method: 'GET', url: `/v1/incidents/${incidentId}` })).json();
    expect(incident.notification_status).toBe('partial');
  });
});

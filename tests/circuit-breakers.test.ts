import { describe, expect, it } from 'vitest';
import { makeCircuitBreakers } from '../src/adapters/providers/circuit-breakers.ts';
import type { DeliveryResult } from '../src/domain/notification.ts';

// adapters/providers/circuit-breakers.ts, the state machine alone, on a clock the test moves
// (SPEC section 4: open after 5 consecutive failures, deferred while open, half-open after the
// interval). tests/delivery-rules.test.ts checks the same end to end, through a real receiver.

const HALF_OPEN_MS = 30_000;
const transient: DeliveryResult = { ok: false, permanent: false, status_code: 503, error: 'HTTP 503' };
const permanent: DeliveryResult = { ok: false, permanent: true, status_code: 400, error: 'HTTP 400' };
const sent: DeliveryResult = { ok: true, status_code: 200 };

function setup(maxTracked?: number) {
  let clock = 1_000_000;
  const breakers = makeCircuitBreakers({ halfOpenAfterMs: HALF_OPEN_MS, now: () => clock, ...(maxTracked ? { maxTracked } : {}) });
  let calls = 0;
  const call = (key: string, result: DeliveryResult) =>
    breakers.run(key, async () => {
      calls += 1;
      return result;
    });
  return { breakers, call, calls: () => calls, advance: (ms: number) => (clock += ms) };
}

describe('circuit breakers', () => {
  it('open after 5 consecutive transient failures, and defer without calling until the interval has passed', async () => {
    const { call, calls, advance } = setup();
    for (let i = 0; i < 4; i += 1) expect(await call('a', transient)).toEqual(transient);
    expect(await call('a', transient)).toEqual(transient);
    expect(calls()).toBe(5);
    expect(await call('a', sent)).toEqual({ open: true, retry_in_ms: HALF_OPEN_MS });
    advance(HALF_OPEN_MS - 50);
    // Never less than 100 ms: a deferral is a job put back on the queue.
    expect(await call('a', sent)).toEqual({ open: true, retry_in_ms: 100 });
    expect(calls()).toBe(5);
  });

  it('count only failures in a row: a success or a permanent failure starts the count again', async () => {
    const { call, calls } = setup();
    for (const answer of [transient, transient, transient, transient, sent, transient, transient, transient, transient, permanent, transient, transient, transient, transient]) {
      expect(await call('a', answer)).toEqual(answer);
    }
    expect(await call('a', sent)).toEqual(sent);
    expect(calls()).toBe(15);
  });

  it('keep one breaker per key', async () => {
    const { call } = setup();
    for (let i = 0; i < 5; i += 1) await call('a', transient);
    expect(await call('a', sent)).toMatchObject({ open: true });
    expect(await call('b', sent)).toEqual(sent);
  });

  it('half-open: one probe goes, the others wait for its answer; a success closes the breaker for all', async () => {
    const { breakers, advance } = setup();
    for (let i = 0; i < 5; i += 1) await breakers.run('a', async () => transient);
    advance(HALF_OPEN_MS);
    let answerProbe!: (result: DeliveryResult) => void;
    const started: string[] = [];
    const probe = breakers.run('a', () => {
      started.push('probe');
      return new Promise<DeliveryResult>((resolve) => (answerProbe = resolve));
    });
    const waiting = [1, 2, 3].map((i) => breakers.run('a', async () => (started.push(`waiting ${i}`), sent)));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(started).toEqual(['probe']);
    answerProbe(sent);
    expect(await probe).toEqual(sent);
    expect(await Promise.all(waiting)).toEqual([sent, sent, sent]);
    expect(started).toEqual(['probe', 'waiting 1', 'waiting 2', 'waiting 3']);
  });

  it('half-open: a failed probe opens the breaker again for a whole interval, and those waiting are deferred', async () => {
    const { breakers, call, calls, advance } = setup();
    for (let i = 0; i < 5; i += 1) await call('a', transient);
    advance(HALF_OPEN_MS + 1);
    const probe = call('a', transient);
    const waiting = call('a', sent);
    expect(await probe).toEqual(transient);
    expect(await waiting).toEqual({ open: true, retry_in_ms: HALF_OPEN_MS });
    expect(calls()).toBe(6);
    advance(HALF_OPEN_MS);
    // The next probe succeeds: closed, and five more failures are needed to open it again.
    expect(await call('a', sent)).toEqual(sent);
    for (let i = 0; i < 4; i += 1) expect(await call('a', transient)).toEqual(transient);
    expect(await breakers.run('a', async () => sent)).toEqual(sent);
  });

  it('a provider that throws counts neither way while closed, and closes a half-open breaker', async () => {
    const { breakers, call, advance } = setup();
    const thrower = () => breakers.run('a', async () => {
      throw new Error('bug');
    });
    for (let i = 0; i < 4; i += 1) await call('a', transient);
    await expect(thrower()).rejects.toThrow('bug');
    expect(await call('a', transient)).toEqual(transient);
    expect(await call('a', sent)).toMatchObject({ open: true });
    advance(HALF_OPEN_MS);
    await expect(thrower()).rejects.toThrow('bug');
    expect(await call('a', sent)).toEqual(sent);
  });

  it('remember only destinations with failures, and at most maxTracked of them, the oldest forgotten first', async () => {
    const { breakers, call } = setup(3);
    // Healthy destinations leave nothing behind.
    for (const key of ['a', 'b', 'c', 'd']) await call(key, sent);
    expect(breakers.tracked()).toBe(0);
    // A failure is remembered until an answer that is not one.
    await call('a', transient);
    expect(breakers.tracked()).toBe(1);
    await call('a', permanent);
    expect(breakers.tracked()).toBe(0);
    // An open breaker, then three other failing destinations: the open one, the oldest, is
    // forgotten, and its next delivery goes (and counts from one again).
    for (let i = 0; i < 5; i += 1) await call('a', transient);
    expect(await call('a', sent)).toMatchObject({ open: true });
    for (const key of ['b', 'c', 'd']) await call(key, transient);
    expect(breakers.tracked()).toBe(3);
    expect(await call('a', sent)).toEqual(sent);
    // A probe's success forgets its destination.
    const { breakers: other, call: callOther, advance } = setup();
    for (let i = 0; i < 5; i += 1) await callOther('x', transient);
    advance(HALF_OPEN_MS);
    expect(await callOther('x', sent)).toEqual(sent);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(other.tracked()).toBe(0);
  });
});

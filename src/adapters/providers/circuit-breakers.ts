import type { DeliveryResult } from '../../domain/notification.ts';
import type { CircuitBreakers } from '../../ports/provider.ts';

type Outcome = DeliveryResult | { open: true; retry_in_ms: number };

interface Breaker {
  /** Transient failures in a row since the last answer that was not one. */
  failures: number;
  /** When the breaker last opened (ms since the epoch); 0 while closed. */
  openedAt: number;
  /** While half-open: the probe in flight, settled (never rejected) when its answer is in. */
  probe?: Promise<unknown>;
}

/**
 * Circuit breakers per key (SPEC section 4): a key opens after `threshold` (5) consecutive
 * transient failures and half-opens `halfOpenAfterMs` after it opened. Half-open, one delivery is
 * the probe and the others of that key wait for its answer: a success closes the breaker, a
 * transient failure opens it again for another `halfOpenAfterMs`. Permanent failures (a bad
 * address, a 400) say nothing about the provider's health: they count as answers, like a success.
 * Breakers are per process.
 *
 * Written here rather than with cockatiel's CircuitBreakerPolicy, which this module used until
 * issue 17: the policy wraps every call in four promises of its own (execute, its executor, the
 * events it emits, the wrapper that turned a transient result into a rejection), about a tenth of
 * everything a delivering worker allocated (a sampling heap profile of a 20,000-job drain). The
 * state machine of a consecutive-failure breaker is the few lines below, and the closed path, on
 * which every delivery goes, is one `then`.
 */
export function makeCircuitBreakers(options: {
  halfOpenAfterMs: number;
  threshold?: number;
  now?: () => number;
  /** How many keys with failures are remembered at most (default 10,000): the oldest goes first. */
  maxTracked?: number;
}): CircuitBreakers & { tracked(): number } {
  const threshold = options.threshold ?? 5;
  const now = options.now ?? Date.now;
  const maxTracked = options.maxTracked ?? 10_000;
  // Only keys with something to remember (failures in a row, open, a probe in flight) have an
  // entry: a healthy destination costs nothing, and customers choose the webhook hosts, so the
  // map is bounded too. Forgetting an open breaker only means its next delivery goes and is
  // counted afresh.
  const breakers = new Map<string, Breaker>();
  const track = (key: string): Breaker => {
    let breaker = breakers.get(key);
    if (!breaker) {
      if (breakers.size >= maxTracked) breakers.delete(breakers.keys().next().value!);
      breakers.set(key, (breaker = { failures: 0, openedAt: 0 }));
    }
    return breaker;
  };
  const forgetIfClosed = (key: string, breaker: Breaker) => {
    if (breaker.failures === 0 && breaker.openedAt === 0 && !breaker.probe && breakers.get(key) === breaker) breakers.delete(key);
  };

  // An answer to a delivery that went while the breaker was closed only counts; the breaker
  // opens, and closes again, on the answers of the probes alone (as cockatiel's did).
  const answered = (key: string, result: DeliveryResult): DeliveryResult => {
    if (result.ok || result.permanent) {
      const breaker = breakers.get(key);
      if (breaker) {
        breaker.failures = 0;
        forgetIfClosed(key, breaker);
      }
    } else {
      const breaker = track(key);
      if (++breaker.failures >= threshold) breaker.openedAt = now();
    }
    return result;
  };
  const probed = (breaker: Breaker, result: DeliveryResult): DeliveryResult => {
    if (result.ok || result.permanent) {
      breaker.failures = 0;
      breaker.openedAt = 0;
    } else {
      breaker.openedAt = now();
    }
    return result;
  };

  function run(key: string, attempt: () => Promise<DeliveryResult>): Promise<Outcome> {
    const breaker = breakers.get(key);
    if (!breaker || (breaker.openedAt === 0 && !breaker.probe)) return attempt().then((result) => answered(key, result));
    if (breaker.probe) return breaker.probe.then(() => run(key, attempt));

    const retryInMs = breaker.openedAt + options.halfOpenAfterMs - now();
    if (retryInMs > 0) return Promise.resolve({ open: true, retry_in_ms: Math.max(retryInMs, 100) });
    // Half-open: this delivery is the probe. One that throws (a bug, not an answer) closes the
    // breaker, as with cockatiel: nothing says the provider is down.
    const probe = attempt().then(
      (result) => probed(breaker, result),
      (error: unknown) => {
        probed(breaker, { ok: true });
        throw error;
      },
    );
    const settled = () => {
      breaker.probe = undefined;
      forgetIfClosed(key, breaker);
    };
    breaker.probe = probe.then(settled, settled);
    return probe;
  }

  return { run, tracked: () => breakers.size };
}

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
export function makeCircuitBreakers(options: { halfOpenAfterMs: number; threshold?: number; now?: () => number }): CircuitBreakers {
  const threshold = options.threshold ?? 5;
  const now = options.now ?? Date.now;
  const breakers = new Map<string, Breaker>();

  // An answer to a delivery that went while the breaker was closed only counts; the breaker
  // opens, and closes again, on the answers of the probes alone (as cockatiel's did).
  const answered = (breaker: Breaker, result: DeliveryResult): DeliveryResult => {
    if (result.ok || result.permanent) breaker.failures = 0;
    else if (++breaker.failures >= threshold) breaker.openedAt = now();
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
    let breaker = breakers.get(key);
    if (!breaker) breakers.set(key, (breaker = { failures: 0, openedAt: 0 }));
    const current = breaker;
    if (current.probe) return current.probe.then(() => run(key, attempt));
    if (current.openedAt === 0) return attempt().then((result) => answered(current, result));

    const retryInMs = current.openedAt + options.halfOpenAfterMs - now();
    if (retryInMs > 0) return Promise.resolve({ open: true, retry_in_ms: Math.max(retryInMs, 100) });
    // Half-open: this delivery is the probe. One that throws (a bug, not an answer) closes the
    // breaker, as with cockatiel: nothing says the provider is down.
    const probe = attempt().then(
      (result) => probed(current, result),
      (error: unknown) => {
        probed(current, { ok: true });
        throw error;
      },
    );
    const settled = () => {
      current.probe = undefined;
    };
    current.probe = probe.then(settled, settled);
    return probe;
  }

  return { run };
}

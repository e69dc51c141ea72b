import { BrokenCircuitError, ConsecutiveBreaker, circuitBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import type { DeliveryResult } from '../../domain/notification.ts';
import type { CircuitBreakers } from '../../ports/provider.ts';

class TransientFailure extends Error {
  readonly result: DeliveryResult;
  constructor(result: DeliveryResult) {
    super('transient delivery failure');
    this.result = result;
  }
}

/**
 * cockatiel breakers (SPEC section 4): a key opens after 5 consecutive transient failures and
 * half-opens after `halfOpenAfterMs`. Permanent failures (a bad address, a 400) say nothing
 * about the provider's health and do not count. Breakers are per process.
 */
export function makeCircuitBreakers(options: { halfOpenAfterMs: number; threshold?: number }): CircuitBreakers {
  const breakers = new Map<string, { policy: CircuitBreakerPolicy; openedAt: number }>();
  const breakerFor = (key: string) => {
    let entry = breakers.get(key);
    if (!entry) {
      const policy = circuitBreaker(handleWhen((error) => error instanceof TransientFailure), {
        halfOpenAfter: options.halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(options.threshold ?? 5),
      });
      const created = { policy, openedAt: 0 };
      policy.onBreak(() => {
        created.openedAt = Date.now();
      });
      entry = created;
      breakers.set(key, entry);
    }
    return entry;
  };

  return {
    async run(key, attempt) {
      const entry = breakerFor(key);
      try {
        return await entry.policy.execute(async () => {
          const result = await attempt();
          if (!result.ok && !result.permanent) throw new TransientFailure(result);
          return result;
        });
      } catch (error) {
        if (error instanceof TransientFailure) return error.result;
        if (error instanceof BrokenCircuitError) {
          return { open: true, retry_in_ms: Math.max(entry.openedAt + options.halfOpenAfterMs - Date.now(), 100) };
        }
        throw error;
      }
    },
  };
}

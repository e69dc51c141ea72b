import { setTimeout as sleep } from 'node:timers/promises';
import { DomainError } from '../domain/errors.ts';

/** The log lines a worker writes about its own writes (a pino logger fits). */
export interface WorkLog {
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

export interface WriteRetryOptions {
  /** How long to keep trying before the error is thrown to the caller. */
  budgetMs: number;
  logger?: WorkLog | undefined;
  /** What is being written, for the log. */
  what: string;
  context?: Record<string, unknown>;
}

/**
 * Whether trying the same write again could succeed. A refused value (the store translates data
 * errors into a DomainError) or a programmer error will fail the same way every time; a lost
 * connection, a server restarting, a deadlock or a serialization failure will not.
 */
function isWorthRetrying(error: unknown): boolean {
  if (error instanceof DomainError) return false;
  return !(error instanceof TypeError || error instanceof RangeError || error instanceof ReferenceError || error instanceof SyntaxError);
}

/**
 * SPEC section 4, "a failed write of an outcome is retried": runs `write` until it succeeds,
 * backing off from 50 ms to 1 s (with jitter) for up to `budgetMs`. Success costs nothing extra.
 * The delay stops at 1 s so that the write lands within a second of PostgreSQL coming back, well
 * before pg-boss notices the job's lapsed heartbeat and hands it to another worker.
 */
export async function retryingWrite<T>(options: WriteRetryOptions, write: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + options.budgetMs;
  for (let tries = 1; ; tries++) {
    try {
      const result = await write();
      if (tries > 1) options.logger?.warn({ ...options.context, tries }, `${options.what}: written after ${tries} tries`);
      return result;
    } catch (error) {
      if (!isWorthRetrying(error) || Date.now() >= deadline) {
        options.logger?.error({ ...options.context, err: error, tries }, `${options.what}: giving up`);
        throw error;
      }
      if (tries === 1) options.logger?.warn({ ...options.context, err: error }, `${options.what} failed; retrying with backoff`);
      const delay = Math.min(50 * 2 ** (tries - 1), 1000);
      await sleep(Math.min(delay * (0.75 + Math.random() / 2), Math.max(deadline - Date.now(), 0)));
    }
  }
}

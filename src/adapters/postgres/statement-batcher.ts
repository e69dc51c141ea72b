import { AsyncResource } from 'node:async_hooks';

// Concurrent one-statement writes of the same kind share a statement (issue 17: ingest). At most
// `inFlight` statements run at once; what arrives while they run waits and goes in the next one,
// up to `maxBatch` rows. So a lone request goes at once, as before, and under load each statement
// carries several: one round trip, one parse-bind-execute and one commit (one WAL flush) for all
// of them instead of one each. DataLoader batches per tick and cannot bound the statements in
// flight, which is what sizes the batches here; hence these forty lines of our own.

interface Waiting<Item> {
  item: Item;
  /** The caller's async context (its trace), for the statement it is the first of. */
  scope: AsyncResource;
  resolve(): void;
  reject(error: unknown): void;
}

/** SQLSTATE classes 22 (data exception), 23 (integrity) and 54 (a value past a limit). */
const refusedValue = (error: unknown): boolean => /^(22|23|54)/.test(String((error as { code?: unknown } | null)?.code ?? ''));

export interface StatementBatcher<Item> {
  /** Resolves once the statement that carried `item` has committed. */
  add(item: Item): Promise<void>;
}

export function makeStatementBatcher<Item>(options: {
  /** Writes every item in ONE statement: all of them commit, or none. */
  write(items: Item[]): Promise<void>;
  inFlight: number;
  maxBatch: number;
}): StatementBatcher<Item> {
  const waiting: Waiting<Item>[] = [];
  let running = 0;

  async function run(batch: Waiting<Item>[]): Promise<void> {
    try {
      await options.write(batch.map((w) => w.item));
      for (const w of batch) w.resolve();
    } catch (error) {
      // PostgreSQL refused a value (a data or integrity error), so nothing of the statement was
      // written: each item is tried on its own, and only the one at fault fails. After any other
      // error (a lost connection, a terminated backend) the statement may have committed, and
      // writing the items again could write each twice: every caller gets the error, as a lone
      // statement's caller would.
      if (batch.length === 1 || !refusedValue(error)) {
        for (const w of batch) w.reject(error);
        return;
      }
      await Promise.all(batch.map((w) => options.write([w.item]).then(w.resolve, w.reject)));
    }
  }

  function pump(): void {
    while (running < options.inFlight && waiting.length > 0) {
      const batch = waiting.splice(0, options.maxBatch);
      running++;
      void batch[0]!.scope.runInAsyncScope(run, null, batch).finally(() => {
        running--;
        pump();
      });
    }
  }

  return {
    add(item) {
      return new Promise<void>((resolve, reject) => {
        waiting.push({ item, scope: new AsyncResource('tocsin.statement-batch'), resolve, reject });
        pump();
      });
    },
  };
}

import { CompiledQuery, type RawBuilder } from 'kysely';
import type { Executor } from './database.ts';

const slot = Symbol('parameter slot');

interface Slot {
  readonly [slot]: number;
}

const isSlot = (value: unknown): value is Slot => typeof value === 'object' && value !== null && slot in value;

/**
 * A statement whose text is the same on every run, only its parameters change: built and compiled
 * by kysely once per process, then sent with each run's values. `build` is called once, with
 * stand-ins for its arguments, so it must use each argument only as a value of the statement
 * (`${argument}`), never inspect it. The delivery worker's statements are built this way: kysely
 * built and compiled them again for every batch, code that runs a few hundred times a drain and
 * never gets optimised (about 2 ms a batch, a CPU profile of a 20,000-job drain).
 */
export function reusableStatement<P extends readonly unknown[], R>(build: (...args: P) => RawBuilder<R>) {
  let compiled: { sql: string; parameters: readonly unknown[] } | undefined;
  return async (db: Executor, ...args: P): Promise<R[]> => {
    if (compiled === undefined) {
      const standIns = Array.from({ length: build.length }, (_, index): Slot => ({ [slot]: index })) as unknown as P;
      const { sql, parameters } = build(...standIns).compile(db);
      compiled = { sql, parameters };
    }
    const parameters = compiled.parameters.map((value) => (isSlot(value) ? args[value[slot]] : value));
    const { rows } = await db.executeQuery(CompiledQuery.raw(compiled.sql, parameters));
    return rows as R[];
  };
}

import assert from 'node:assert/strict';
import type { ChangeFeed, Transact, Tx } from '../../ports/transact.ts';
import { appendChanges, type NewChange } from './change-store.ts';
import type { ChangeNotifier } from './change-notifier.ts';
import type { Database, Executor } from './database.ts';
import { translatePgError } from './pg-errors.ts';

/** What a Tx is inside: the executor to run statements on, and the changes appended so far. */
class PgTx {
  readonly executor: Executor;
  /** A one-statement unit of work on the pool (Transact.single), or the pool for reads. */
  readonly single: boolean;
  pending: NewChange[] = [];
  /** The newest change id a statement of this unit of work wrote itself (appendChangesFrom). */
  appended = 0;
  constructor(executor: Executor, single: boolean) {
    this.executor = executor;
    this.single = single;
  }
}

const inside = (tx: Tx): PgTx => tx as unknown as PgTx;

/** The executor behind a Tx: for store modules and the queue adapter only. */
export const executor = (tx: Tx): Executor => inside(tx).executor;

/** A Tx for reads outside any transaction: each statement runs on its own (the pool). */
export const readerOf = (db: Database): Tx => new PgTx(db, true) as unknown as Tx;

/**
 * The change feed's write side (SPEC section 7). Changes wait in the Tx and are written by one
 * statement just before COMMIT, so the feed's shared lock is held for that statement and the
 * commit only (see migrations/2026-11-29T10-00_changes.ts). Several `incident.updated` of one
 * incident in one transaction are one event: the incident as it was at the end.
 */
export const changeFeed: ChangeFeed = {
  append(tx, type, data) {
    const state = inside(tx);
    if (type === 'incident.updated') {
      const id = (data as { id?: unknown }).id;
      state.pending = state.pending.filter((c) => c.type !== 'incident.updated' || (c.data as { id?: unknown }).id !== id);
    }
    state.pending.push({ type, data });
  },
};

/** Tells the unit of work the newest change id one of its statements wrote itself, to notify it after commit. */
export function noteAppended(tx: Tx, newest: number): void {
  const state = inside(tx);
  state.appended = Math.max(state.appended, newest);
}

export function makeTransact(db: Database, notifier: Pick<ChangeNotifier, 'committed'>): Transact {
  const run = async <T>(work: (tx: Tx) => Promise<T>): Promise<T> => {
    let newest = 0;
    let result: T;
    try {
      result = await db.transaction().execute(async (trx) => {
        const state = new PgTx(trx, false);
        const value = await work(state as unknown as Tx);
        if (state.pending.length > 0) newest = (await appendChanges(trx, state.pending)).at(-1) ?? 0;
        newest = Math.max(newest, state.appended);
        return value;
      });
    } catch (error) {
      throw translatePgError(error);
    }
    if (newest > 0) notifier.committed(newest);
    return result;
  };
  const single = async <T>(work: (tx: Tx) => Promise<T>): Promise<T> => {
    const state = new PgTx(db, true);
    let result: T;
    try {
      result = await work(state as unknown as Tx);
    } catch (error) {
      throw translatePgError(error);
    }
    // A change that no statement wrote would be lost to every stream: a programmer error.
    assert.equal(state.pending.length, 0, `changes appended in a one-statement unit of work were not written: ${state.pending.map((c) => c.type).join(', ')}`);
    if (state.appended > 0) notifier.committed(state.appended);
    return result;
  };
  return Object.assign(run, { single });
}

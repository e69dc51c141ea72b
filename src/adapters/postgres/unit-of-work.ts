import type { Stores, Transact } from '../../ports/unit-of-work.ts';
import type { Database, Executor } from './database.ts';
import { makeIncidentWrites, makeTimelineWrites } from './incident-store.ts';
import { translatePgError } from './pg-errors.ts';

export function bindStores(db: Executor): Stores {
  return { incidents: makeIncidentWrites(db), timeline: makeTimelineWrites(db) };
}

/** A Transact that opens a new transaction for each unit of work. */
export function makeTransact(db: Database): Transact {
  return async (work) => {
    try {
      return await db.transaction().execute((trx) => work(bindStores(trx)));
    } catch (error) {
      throw translatePgError(error);
    }
  };
}

/**
 * A Transact that joins a transaction someone else opened: the HTTP idempotency layer uses it so
 * that the stored response commits with the resource it describes.
 */
export function joinTransaction(trx: Executor): Transact {
  return async (work) => {
    try {
      return await work(bindStores(trx));
    } catch (error) {
      throw translatePgError(error);
    }
  };
}

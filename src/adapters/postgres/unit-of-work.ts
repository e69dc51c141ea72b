import type { PgBoss } from 'pg-boss';
import type { Stores, Transact } from '../../ports/unit-of-work.ts';
import { makeHeartbeatCheckWrites } from '../queue/heartbeat-check-writes.ts';
import { makeJobWrites } from '../queue/job-writes.ts';
import { makeEscalationJobWrites } from '../queue/escalation-job-writes.ts';
import type { Database, Executor } from './database.ts';
import { makePolicyWrites } from './escalation-policy-store.ts';
import { makeEscalationWrites } from './escalation-store.ts';
import { makeHeartbeatWrites } from './heartbeat-store.ts';
import { makeIncidentWrites, makeTimelineWrites } from './incident-store.ts';
import { makeAlertWrites } from './integration-store.ts';
import { makeNotificationWrites } from './notification-store.ts';
import { translatePgError } from './pg-errors.ts';
import { makeTeamWrites } from './team-store.ts';
import { makeTemplateWrites } from './template-store.ts';
import { makeUserWrites } from './user-store.ts';

/**
 * Every store bound to one executor (a transaction, or the pool for Transact.single). Each is
 * made on first use: a unit of work touches two or three of them, and this runs per request.
 */
class BoundStores implements Stores {
  readonly trx: Executor;
  readonly boss: PgBoss;
  constructor(trx: Executor, boss: PgBoss) {
    this.trx = trx;
    this.boss = boss;
  }
  #incidents?: Stores['incidents'];
  get incidents(): Stores['incidents'] {
    return (this.#incidents ??= makeIncidentWrites(this.trx));
  }
  #timeline?: Stores['timeline'];
  get timeline(): Stores['timeline'] {
    return (this.#timeline ??= makeTimelineWrites(this.trx));
  }
  #notifications?: Stores['notifications'];
  get notifications(): Stores['notifications'] {
    return (this.#notifications ??= makeNotificationWrites(this.trx));
  }
  #jobs?: Stores['jobs'];
  get jobs(): Stores['jobs'] {
    return (this.#jobs ??= makeJobWrites(this.boss, this.trx));
  }
  #alerts?: Stores['alerts'];
  get alerts(): Stores['alerts'] {
    return (this.#alerts ??= makeAlertWrites(this.trx));
  }
  #heartbeats?: Stores['heartbeats'];
  get heartbeats(): Stores['heartbeats'] {
    return (this.#heartbeats ??= makeHeartbeatWrites(this.trx));
  }
  #heartbeatChecks?: Stores['heartbeatChecks'];
  get heartbeatChecks(): Stores['heartbeatChecks'] {
    return (this.#heartbeatChecks ??= makeHeartbeatCheckWrites(this.boss, this.trx));
  }
  #templates?: Stores['templates'];
  get templates(): Stores['templates'] {
    return (this.#templates ??= makeTemplateWrites(this.trx));
  }
  #users?: Stores['users'];
  get users(): Stores['users'] {
    return (this.#users ??= makeUserWrites(this.trx));
  }
  #policies?: Stores['policies'];
  get policies(): Stores['policies'] {
    return (this.#policies ??= makePolicyWrites(this.trx));
  }
  #teams?: Stores['teams'];
  get teams(): Stores['teams'] {
    return (this.#teams ??= makeTeamWrites(this.trx));
  }
  #escalations?: Stores['escalations'];
  get escalations(): Stores['escalations'] {
    return (this.#escalations ??= makeEscalationWrites(this.trx));
  }
  #escalationJobs?: Stores['escalationJobs'];
  get escalationJobs(): Stores['escalationJobs'] {
    return (this.#escalationJobs ??= makeEscalationJobWrites(this.boss, this.trx));
  }
}

export function bindStores(trx: Executor, boss: PgBoss): Stores {
  return new BoundStores(trx, boss);
}

/** A Transact that opens a new transaction for each unit of work. */
export function makeTransact(db: Database, boss: PgBoss): Transact {
  const run = async <T>(work: (stores: Stores) => Promise<T>): Promise<T> => {
    try {
      return await db.transaction().execute((trx) => work(bindStores(trx, boss)));
    } catch (error) {
      throw translatePgError(error);
    }
  };
  const single = async <T>(work: (stores: Stores) => Promise<T>): Promise<T> => {
    try {
      return await work(bindStores(db, boss));
    } catch (error) {
      throw translatePgError(error);
    }
  };
  return Object.assign(run, { single });
}

/**
 * A Transact that joins a transaction someone else opened: the HTTP idempotency layer uses it so
 * that the stored response commits with the resource it describes.
 */
export function joinTransaction(trx: Executor, boss: PgBoss): Transact {
  const run = async <T>(work: (stores: Stores) => Promise<T>): Promise<T> => {
    try {
      return await work(bindStores(trx, boss));
    } catch (error) {
      throw translatePgError(error);
    }
  };
  return Object.assign(run, { single: run });
}

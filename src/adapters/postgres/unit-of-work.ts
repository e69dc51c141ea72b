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

export function bindStores(trx: Executor, boss: PgBoss): Stores {
  return {
    incidents: makeIncidentWrites(trx),
    timeline: makeTimelineWrites(trx),
    notifications: makeNotificationWrites(trx),
    jobs: makeJobWrites(boss, trx),
    alerts: makeAlertWrites(trx),
    heartbeats: makeHeartbeatWrites(trx),
    heartbeatChecks: makeHeartbeatCheckWrites(boss, trx),
    templates: makeTemplateWrites(trx),
    users: makeUserWrites(trx),
    policies: makePolicyWrites(trx),
    teams: makeTeamWrites(trx),
    escalations: makeEscalationWrites(trx),
    escalationJobs: makeEscalationJobWrites(boss, trx),
  };
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

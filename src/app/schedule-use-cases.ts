import { randomBytes } from 'node:crypto';
import type * as PolicyStore from '../adapters/postgres/escalation-policy-store.ts';
import type * as FeedStore from '../adapters/postgres/ical-feed-store.ts';
import type * as OverrideStore from '../adapters/postgres/schedule-override-store.ts';
import type * as ScheduleStore from '../adapters/postgres/schedule-store.ts';
import type * as UserStore from '../adapters/postgres/user-store.ts';
import { DomainError, notFound } from '../domain/errors.ts';
import { overrideProblems, throwIfProblems, validateSchedule, type Layer, type Problem, type Schedule, type StoredOverride } from '../domain/schedule.ts';
import type { Clock } from '../ports/clock.ts';
import type { ChangeFeed, Transact, Tx } from '../ports/transact.ts';
import { makeOnCallQueries } from './on-call-queries.ts';
import type { References } from './references.ts';

// SPEC section 11: on-call schedules, what a user (or a tool, or the escalation worker) asks of
// them. Writes are validated here (the domain's rules, then the references: every user and
// team named must exist), inside the transaction that makes them, and each appends its change
// to the feed (SPEC 7; `schedule.*` events are an addition the console can follow). The
// computations (on call, final, gaps, shifts, feeds) are in on-call-queries.ts.

export interface ScheduleInput {
  name: string;
  time_zone: string;
  /** Absent on a PUT: the team stays as it is; null: no team. */
  team_id?: string | null | undefined;
  layers: Layer[];
}

export interface OverrideInput {
  user_id: string;
  start: Date;
  end: Date;
}

export interface ScheduleDeps {
  transact: Transact;
  clock: Clock;
  changes: ChangeFeed;
  schedules: typeof ScheduleStore;
  overrides: Pick<typeof OverrideStore, 'insertOverride' | 'deleteOverride'>;
  feeds: Pick<typeof FeedStore, 'insertIcalFeed' | 'deleteIcalFeed' | 'findIcalFeedByToken'>;
  users: Pick<typeof UserStore, 'getUsers' | 'userNames'>;
  references: Pick<References, 'check'>;
  policies: Pick<typeof PolicyStore, 'policiesUsingSchedule'>;
}

/** The schedule as GET returns it, for the change feed: the version travels as the ETag. */
export const scheduleView = ({ version: _version, ...schedule }: Schedule) => schedule;

/** Layers as stored: only the known fields, ids in lower case (PostgreSQL prints uuids so). */
function normalizeLayers(layers: Layer[]): Layer[] {
  return layers.map((layer) => ({
    name: layer.name,
    user_ids: layer.user_ids.map((id) => id.toLowerCase()),
    start: layer.start,
    turn: { count: layer.turn.count, unit: layer.turn.unit },
    restrictions: (layer.restrictions ?? []).map((r) => ({ days: [...r.days], start: r.start, end: r.end })),
  }));
}

export function makeScheduleUseCases(deps: ScheduleDeps) {
  const { schedules, changes } = deps;

  /** SPEC 2: every user and team a schedule names must exist, each unknown one named by its field. */
  async function checkScheduleReferences(tx: Tx, layers: Layer[], teamId: string | null | undefined): Promise<void> {
    await deps.references.check(tx, [
      ...(teamId ? [{ field: 'body.team_id', kind: 'team' as const, id: teamId }] : []),
      ...layers.flatMap((layer, i) => layer.user_ids.map((id, j) => ({ field: `body.layers.${i}.user_ids.${j}`, kind: 'user' as const, id }))),
    ]);
  }

  async function checkUser(tx: Tx, userId: string): Promise<void> {
    await deps.references.check(tx, [{ field: 'body.user_id', kind: 'user', id: userId }]);
  }

  async function lockOrThrow(tx: Tx, id: string, expectedVersion?: number): Promise<Schedule> {
    const current = await schedules.lockSchedule(tx, id);
    if (!current) throw notFound('SCHEDULE', id);
    // If-Match is checked under the row lock, so two writers holding the same ETag cannot both win.
    if (expectedVersion !== undefined && current.version !== expectedVersion) {
      throw new DomainError('PRECONDITION_FAILED', 'the schedule changed since the ETag given in If-Match', { current_etag: `"${current.version}"` });
    }
    return current;
  }

  /** POST /v1/schedules inside a transaction someone opened (the HTTP idempotency layer). */
  async function createIn(tx: Tx, actor: string, input: ScheduleInput): Promise<Schedule> {
    validateSchedule(input);
    const layers = normalizeLayers(input.layers);
    const teamId = input.team_id?.toLowerCase() ?? null;
    await checkScheduleReferences(tx, layers, teamId);
    const schedule = await schedules.insertSchedule(tx, { name: input.name, time_zone: input.time_zone, team_id: teamId, layers, created_by: actor });
    changes.append(tx, 'schedule.created', scheduleView(schedule));
    return schedule;
  }

  /** POST /v1/schedules/:id/overrides inside a transaction someone opened. */
  async function addOverrideIn(tx: Tx, actor: string, scheduleId: string, input: OverrideInput): Promise<StoredOverride> {
    throwIfProblems(overrideProblems(input));
    // The lock orders the overrides of a schedule, so "created last" is well defined (see insertOverride).
    await lockOrThrow(tx, scheduleId);
    const userId = input.user_id.toLowerCase();
    await checkUser(tx, userId);
    const override = await deps.overrides.insertOverride(tx, { schedule_id: scheduleId, user_id: userId, start: input.start, end: input.end, created_by: actor });
    changes.append(tx, 'schedule_override.created', override);
    return override;
  }

  /**
   * POST /v1/schedules/:id/ical-feeds inside a transaction someone opened. The token is shown
   * once, in the feed's URL; only its hash is kept.
   */
  async function createFeedIn(tx: Tx, actor: string, scheduleId: string, input: { user_id?: string | null | undefined }) {
    if (!(await schedules.getSchedule(tx, scheduleId))) throw notFound('SCHEDULE', scheduleId);
    const userId = input.user_id?.toLowerCase() ?? null;
    if (userId) await checkUser(tx, userId);
    const token = randomBytes(32).toString('base64url');
    const feed = await deps.feeds.insertIcalFeed(tx, { schedule_id: scheduleId, user_id: userId, token, created_by: actor });
    return { feed, token };
  }

  return {
    create: (actor: string, input: ScheduleInput) => deps.transact((tx) => createIn(tx, actor, input)),
    createIn,

    /** PUT /v1/schedules/:id: replaces name, zone and layers (and the team, when given). */
    replace(id: string, input: ScheduleInput, expectedVersion?: number): Promise<Schedule> {
      validateSchedule(input);
      const layers = normalizeLayers(input.layers);
      return deps.transact(async (tx) => {
        const current = await lockOrThrow(tx, id, expectedVersion);
        const teamId = input.team_id === undefined ? current.team_id : (input.team_id?.toLowerCase() ?? null);
        await checkScheduleReferences(tx, layers, input.team_id === undefined ? undefined : teamId);
        const updated = await schedules.updateSchedule(tx, id, { name: input.name, time_zone: input.time_zone, team_id: teamId, layers });
        changes.append(tx, 'schedule.updated', scheduleView(updated));
        return updated;
      });
    },

    /** DELETE /v1/schedules/:id, with its overrides and feeds (whose URLs then answer 404). */
    remove(id: string, expectedVersion?: number): Promise<void> {
      return deps.transact(async (tx) => {
        const current = await lockOrThrow(tx, id, expectedVersion);
        // A level that pages through this schedule would page nobody: it is refused instead.
        const policyIds = await deps.policies.policiesUsingSchedule(tx, id);
        if (policyIds.length > 0) {
          throw new DomainError('SCHEDULE_IN_USE', `escalation policies page through this schedule: ${policyIds.join(', ')}; take it out of their levels first`, { policy_ids: policyIds });
        }
        await schedules.deleteSchedule(tx, id);
        changes.append(tx, 'schedule.deleted', scheduleView(current));
      });
    },

    addOverride: (actor: string, scheduleId: string, input: OverrideInput) => deps.transact((tx) => addOverrideIn(tx, actor, scheduleId, input)),
    addOverrideIn,

    removeOverride(scheduleId: string, overrideId: string): Promise<void> {
      return deps.transact(async (tx) => {
        const removed = await deps.overrides.deleteOverride(tx, scheduleId, overrideId);
        if (!removed) throw notFound('OVERRIDE', overrideId);
        changes.append(tx, 'schedule_override.deleted', removed);
      });
    },

    createFeed: (actor: string, scheduleId: string, input: { user_id?: string | null | undefined }) =>
      deps.transact((tx) => createFeedIn(tx, actor, scheduleId, input)),
    createFeedIn,

    removeFeed(scheduleId: string, feedId: string): Promise<void> {
      return deps.transact(async (tx) => {
        if (!(await deps.feeds.deleteIcalFeed(tx, scheduleId, feedId))) throw notFound('ICAL_FEED', feedId);
      });
    },

    ...makeOnCallQueries(deps),
  };
}

export type ScheduleUseCases = ReturnType<typeof makeScheduleUseCases>;

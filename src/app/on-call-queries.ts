import { DomainError, notFound } from '../domain/errors.ts';
import { finalSchedule, ON_CALL_HORIZON_MS, onCallAt, scheduleGaps, userShifts } from '../domain/schedule-final.ts';
import { throwIfProblems, windowProblems, type FinalEntry } from '../domain/schedule.ts';
import { DAY } from '../domain/schedule-zone.ts';
import type { Tx } from '../ports/transact.ts';
import type { ScheduleDeps } from './schedule-use-cases.ts';

// SPEC section 11: who is on call, computed from a stored schedule and its overrides by the pure
// functions of src/domain/schedule-final.ts. Each read is one statement (the schedule with the
// overrides around the window), run without a transaction (Transact.single); the escalation
// worker's look-up (`whoIsOnCall`) runs inside the transaction that pages.

/** `since` and `until` of the final schedule, gaps and shifts when a request leaves them out. */
export const DEFAULT_WINDOW_MS = 7 * DAY;
/** SPEC 11: a feed holds the final schedule from 7 days back (from that day's UTC midnight) to 90 days ahead. */
export const FEED_PAST_MS = 7 * DAY;
export const FEED_AHEAD_MS = 90 * DAY;

/**
 * The last instant the API can write (ISO-8601 with a four-digit year, SPEC 2): a default window
 * or an on-call `until` never runs past it.
 */
export const LAST_INSTANT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export interface WindowInput {
  since?: Date | undefined;
  until?: Date | undefined;
}

export interface ShiftItem {
  schedule_id: string;
  start: Date;
  end: Date;
}

const atLeastOneMs = (at: Date) => new Date(at.getTime() + 1);

export function makeOnCallQueries(deps: Pick<ScheduleDeps, 'transact' | 'clock' | 'schedules' | 'feeds' | 'users'>) {
  const { schedules } = deps;

  /** The window asked for: since defaults to now, until to a week after since; at most 93 days (SPEC 11). */
  function windowOf(input: WindowInput): { since: Date; until: Date } {
    const since = input.since ?? deps.clock.now();
    const until = input.until ?? new Date(Math.min(since.getTime() + DEFAULT_WINDOW_MS, LAST_INSTANT_MS));
    throwIfProblems(windowProblems(since, until));
    return { since, until };
  }

  async function withOverrides(id: string, since: Date, until: Date) {
    const found = await deps.transact.single((tx) => schedules.scheduleWithOverrides(tx, id, since, until));
    if (!found) throw notFound('SCHEDULE', id);
    return found;
  }

  return {
    /** GET /v1/schedules/:id/on-call: who is on call at `at` (default now), and until when. */
    async onCall(id: string, at: Date = deps.clock.now()): Promise<{ at: Date; user_ids: string[]; until: Date | null }> {
      if (Number.isNaN(at.getTime())) throwIfProblems([{ field: 'querystring.at', message: 'must be an ISO-8601 instant' }]);
      const { schedule, overrides } = await withOverrides(id, at, new Date(at.getTime() + ON_CALL_HORIZON_MS));
      const { user_ids, until } = onCallAt(schedule, overrides, at);
      // A change after the year 9999 cannot be written: as far as the API can say, none is scheduled.
      return { at, user_ids, until: until && until.getTime() <= LAST_INSTANT_MS ? until : null };
    },

    /** GET /v1/schedules/:id/final: the final schedule of the window, gaps included. */
    async final(id: string, input: WindowInput): Promise<{ since: Date; until: Date; entries: FinalEntry[] }> {
      const { since, until } = windowOf(input);
      const { schedule, overrides } = await withOverrides(id, since, until);
      return { since, until, entries: finalSchedule(schedule, overrides, since, until) };
    },

    /** GET /v1/schedules/:id/gaps: the entries of the window with nobody on call. */
    async gaps(id: string, input: WindowInput): Promise<{ since: Date; until: Date; entries: FinalEntry[] }> {
      const { since, until } = windowOf(input);
      const { schedule, overrides } = await withOverrides(id, since, until);
      return { since, until, entries: scheduleGaps(schedule, overrides, since, until) };
    },

    /** GET /v1/users/:id/shifts: the user's runs on call in every schedule, cut to the window, by start. */
    async shifts(userId: string, input: WindowInput): Promise<{ since: Date; until: Date; shifts: ShiftItem[] }> {
      const { since, until } = windowOf(input);
      const id = userId.toLowerCase();
      return deps.transact.single(async (tx) => {
        const [exists, found] = await Promise.all([deps.users.getUsers(tx, [id]), schedules.schedulesOfUser(tx, id, since, until)]);
        if (exists.length === 0) throw notFound('USER', userId);
        const items = found.flatMap(({ schedule, overrides }) =>
          userShifts(schedule, overrides, id, since, until).map((shift) => ({ schedule_id: schedule.id, ...shift })));
        items.sort((a, b) => a.start.getTime() - b.start.getTime() || (a.schedule_id < b.schedule_id ? -1 : 1));
        return { since, until, shifts: items };
      });
    },

    /**
     * GET of a feed's URL: the entries of its calendar (the final schedule's, or its user's
     * shifts), from 7 days back to 90 ahead, with the names to show. The token is never echoed:
     * error messages are logged.
     */
    async feed(token: string) {
      const now = deps.clock.now();
      // The window starts at a UTC midnight, so the first event (cut by the window) keeps its
      // start, and so its UID, across a day of refreshes instead of changing at each one.
      const since = new Date(Math.floor((now.getTime() - FEED_PAST_MS) / DAY) * DAY);
      const until = new Date(now.getTime() + FEED_AHEAD_MS);
      const gone = () => new DomainError('ICAL_FEED_NOT_FOUND', 'no iCalendar feed has this URL (it may have been revoked)');
      return deps.transact.single(async (tx) => {
        const feed = await deps.feeds.findIcalFeedByToken(tx, token);
        if (!feed) throw gone();
        const found = await schedules.scheduleWithOverrides(tx, feed.schedule_id, since, until);
        if (!found) throw gone();
        const { schedule, overrides } = found;
        const userId = feed.user_id;
        const entries: FinalEntry[] = userId === null
          ? finalSchedule(schedule, overrides, since, until)
          : userShifts(schedule, overrides, userId, since, until).map((shift) => ({ ...shift, user_ids: [userId] }));
        const userNames = await deps.users.userNames(tx, [...new Set([...entries.flatMap((e) => e.user_ids), ...(userId ? [userId] : [])])]);
        const calendarName = userId === null ? `${schedule.name} on call` : `${userNames.get(userId) ?? userId}: ${schedule.name}`;
        return { schedule, userId, entries, userNames, calendarName, generatedAt: now };
      });
    },

    /**
     * Who each schedule has on call at `at`, for the escalation worker (SPEC 5: looked up when a
     * level is paged and at each repeat), inside the transaction that pages: one statement for
     * all the schedules and the overrides holding `at`. In the order asked, once each; a schedule
     * that no longer exists is left out. `user_ids` is empty when nobody is on call.
     */
    async whoIsOnCall(tx: Tx, scheduleIds: readonly string[], at: Date): Promise<{ schedule_id: string; user_ids: string[] }[]> {
      const found = await schedules.schedulesWithOverrides(tx, scheduleIds, at, atLeastOneMs(at));
      const byId = new Map(found.map((f) => [f.schedule.id, f]));
      const answered = new Set<string>();
      const result: { schedule_id: string; user_ids: string[] }[] = [];
      for (const asked of scheduleIds) {
        const id = asked.toLowerCase();
        const hit = byId.get(id);
        if (!hit || answered.has(id)) continue;
        answered.add(id);
        result.push({ schedule_id: id, user_ids: finalSchedule(hit.schedule, hit.overrides, at, atLeastOneMs(at))[0]!.user_ids });
      }
      return result;
    },
  };
}

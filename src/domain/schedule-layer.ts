import { clockMinutes } from './quiet-hours.ts';
import { parseLocalDateTime, weekdays, type Layer, type Restriction } from './schedule.ts';
import { DAY, HOUR, MINUTE, type ZoneTime } from './schedule-zone.ts';

// SPEC section 11: who a layer has on call. A layer's users take turns in order from its
// `start`; a turn lasts `count` hours (elapsed time) or `count` days or weeks (calendar time in
// the zone: the handoff keeps its local time, so a turn across a daylight-saving change lasts
// 23 or 25 hours). Restrictions then keep only the layer's windows of local time.
//
// Nothing here walks turns from the start: the turn holding an instant is found by arithmetic,
// so a rotation started in 1990 costs what one started last week. Cost grows with the window.

/** A stretch of time (instants in ms, `[start, end)`) with one user on call. */
export interface Shift {
  start: number;
  end: number;
  user: string;
}

/** A stretch of time, `[start, end)`. */
export interface Window {
  start: number;
  end: number;
}

export interface Rotation {
  /** The first handoff: before it the layer has nobody. */
  readonly start: number;
  /** The instant turn `k` (0, 1, ...) begins. Non-decreasing in `k`. */
  handoff(k: number): number;
  /** The turn holding an instant at or after `start`. */
  turnAt(at: number): number;
  readonly users: readonly string[];
}

/** A layer's turns in the schedule's zone; the layer must have passed `scheduleProblems`. */
export function rotation(layer: Layer, zone: ZoneTime): Rotation {
  const startWall = parseLocalDateTime(layer.start);
  if (startWall === undefined) throw new RangeError(`layer start ${layer.start} is not a local date-time`);
  const users = layer.user_ids;
  const { count, unit } = layer.turn;
  const start = zone.instant(startWall);

  if (unit === 'hour') {
    // Elapsed time: every turn is `count` hours long, whatever the clocks do.
    const length = count * HOUR;
    return { start, users, handoff: (k) => start + k * length, turnAt: (at) => Math.floor((at - start) / length) };
  }

  // Calendar time: handoff k is start's local time, k turns of days later, each read by the
  // SPEC 11 rule on its own (so a handoff at a time skipped one night is back at that time the
  // next). Wall times add days exactly: they are on a UTC calendar.
  const length = count * (unit === 'week' ? 7 : 1) * DAY;
  const handoff = (k: number) => zone.instant(startWall + k * length);
  const turnAt = (at: number) => {
    // The wall clock at `at` is within an offset change of the handoffs' wall times, so the
    // estimate is off by at most one turn either way (more only where a zone skipped a whole
    // day, where turns can be empty); the loops settle it against the handoff instants.
    let k = Math.max(0, Math.floor((zone.wall(at) - startWall) / length));
    while (k > 0 && handoff(k) > at) k--;
    while (handoff(k + 1) <= at) k++;
    return k;
  };
  return { start, users, handoff, turnAt };
}

/** The layer's turns cut to `[since, until)`, before its restrictions, in order. */
export function turnsIn(turns: Rotation, since: number, until: number): Shift[] {
  const from = Math.max(since, turns.start);
  const shifts: Shift[] = [];
  if (from >= until) return shifts;
  let k = turns.turnAt(from);
  let begins = turns.handoff(k);
  while (begins < until) {
    const ends = turns.handoff(k + 1);
    // An empty turn (a handoff on a day the zone skipped, Pacific/Apia 2011-12-30) is dropped.
    if (ends > begins && ends > from) {
      shifts.push({ start: Math.max(begins, from), end: Math.min(ends, until), user: turns.users[k % turns.users.length]! });
    }
    k++;
    begins = ends;
  }
  return shifts;
}

interface DailyWindow {
  /** Bit i set: the window opens on weekdays[i]. */
  days: number;
  start: number;
  /** Minutes after the opening day's midnight; past 24 h when the window runs past midnight. */
  end: number;
}

function dailyWindow(restriction: Restriction): DailyWindow {
  const start = clockMinutes(restriction.start)!;
  const end = clockMinutes(restriction.end)!;
  return {
    days: restriction.days.reduce((bits, day) => bits | (1 << weekdays.indexOf(day)), 0),
    start,
    // SPEC 11: an end at or before the start runs past midnight and belongs to its start day
    // (so `09:00`-`09:00` is a whole day from 09:00).
    end: end <= start ? end + 24 * 60 : end,
  };
}

/** Monday = 0. Wall day 0 (1970-01-01) was a Thursday. */
const weekdayOf = (wallDay: number) => (((wallDay + 3) % 7) + 7) % 7;

/**
 * The restriction windows as instants within `[since, until)`, sorted and merged. A window opens
 * when the zone's clock first reads its start and closes when the clock first reads its end: in
 * a repeated hour that is the first pass (as SPEC 11 reads ambiguous times); in a skipped hour,
 * the jump (as quiet hours end, SPEC 5). Handoffs read a skipped time with the offset before the
 * change instead, as SPEC 11 says; windows do not, because that reading can go backwards (on the
 * day Pacific/Apia skipped, Friday 00:01 would read later than Saturday 00:00) and a window
 * could then end before it starts, or change when split at midnight. "When the clock reads"
 * never goes backwards, so splitting a window anywhere changes nothing.
 */
export function restrictionWindows(restrictions: readonly Restriction[], zone: ZoneTime, since: number, until: number): Window[] {
  const daily = restrictions.map(dailyWindow);
  // A window opens on its day and lasts at most 24 h, and a reading is within a day of its wall
  // time: the days from two before `since` to one after `until` hold every window that overlaps.
  const firstDay = Math.floor(zone.wall(since) / DAY) - 2;
  const lastDay = Math.floor(zone.wall(until) / DAY) + 1;
  const windows: Window[] = [];
  for (let day = firstDay; day <= lastDay; day++) {
    const bit = 1 << weekdayOf(day);
    for (const window of daily) {
      if ((window.days & bit) === 0) continue;
      const start = Math.max(since, zone.reached(day * DAY + window.start * MINUTE));
      const end = Math.min(until, zone.reached(day * DAY + window.end * MINUTE));
      if (start < end) windows.push({ start, end });
    }
  }
  windows.sort((a, b) => a.start - b.start);
  const merged: Window[] = [];
  for (const window of windows) {
    const last = merged.at(-1);
    if (last && window.start <= last.end) last.end = Math.max(last.end, window.end);
    else merged.push({ ...window });
  }
  return merged;
}

/** The parts of the shifts inside the windows (both sorted, each without overlaps). */
export function within(shifts: readonly Shift[], windows: readonly Window[]): Shift[] {
  const kept: Shift[] = [];
  let i = 0;
  let j = 0;
  while (i < shifts.length && j < windows.length) {
    const shift = shifts[i]!;
    const window = windows[j]!;
    const start = Math.max(shift.start, window.start);
    const end = Math.min(shift.end, window.end);
    if (start < end) kept.push({ start, end, user: shift.user });
    if (shift.end <= window.end) i++;
    else j++;
  }
  return kept;
}

/**
 * Who the layer has on call within `[since, until)`: sorted shifts without overlaps, nobody
 * before the layer's start and outside its restrictions. Turns advance all the same outside
 * the restrictions (SPEC 11): the windows only cut the turns, they never shift them.
 */
export function layerShifts(layer: Layer, zone: ZoneTime, since: number, until: number): Shift[] {
  const shifts = turnsIn(rotation(layer, zone), since, until);
  const restrictions = layer.restrictions ?? [];
  // No restrictions (absent or an empty list): the layer is not restricted.
  if (restrictions.length === 0 || shifts.length === 0) return shifts;
  return within(shifts, restrictionWindows(restrictions, zone, shifts[0]!.start, shifts.at(-1)!.end));
}

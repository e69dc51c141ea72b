import assert from 'node:assert/strict';
import { MAX_WINDOW_MS, type FinalEntry, type ScheduleOverride, type ScheduleRules } from './schedule.ts';
import { layerShifts, type Shift } from './schedule-layer.ts';
import { DAY, zoneTime } from './schedule-zone.ts';

// SPEC section 11: the final schedule. Layers are stacked in order, and a later layer wins over
// earlier ones wherever it has someone on call; an override puts its user on call instead of
// whatever the layers give, and the override created last wins where overrides overlap. The
// result covers a window exactly, gaps included, and is what on-call look-ups, gaps, a user's
// shifts and the iCalendar feeds are cut from. Pure: the caller brings the schedule, its
// overrides and the window (at most MAX_WINDOW_MS: see `windowProblems`).

/** A run of the final schedule in ms; `user` null is a gap. */
interface Run {
  start: number;
  end: number;
  user: string | null;
}

/**
 * The final schedule of `[since, until)`: sorted, contiguous, covering the window exactly, gaps
 * as entries with no users, and no two neighbours with the same users. At any instant at most
 * one user is on call: the override's, else the topmost layer's that has someone. An empty
 * window gives an empty list.
 */
export function finalSchedule(schedule: ScheduleRules, overrides: readonly ScheduleOverride[], since: Date, until: Date): FinalEntry[] {
  return finalRuns(schedule, overrides, since.getTime(), until.getTime()).map(toEntry);
}

/** The final schedule's gaps in `[since, until)`: the entries nobody is on call for. */
export function scheduleGaps(schedule: ScheduleRules, overrides: readonly ScheduleOverride[], since: Date, until: Date): FinalEntry[] {
  return finalRuns(schedule, overrides, since.getTime(), until.getTime())
    .filter((run) => run.user === null)
    .map(toEntry);
}

/**
 * A user's shifts in `[since, until)`: one per run of the user being on call in the final
 * schedule, cut to the window (SPEC 11 `GET /v1/users/:id/shifts`).
 */
export function userShifts(
  schedule: ScheduleRules,
  overrides: readonly ScheduleOverride[],
  userId: string,
  since: Date,
  until: Date,
): { start: Date; end: Date }[] {
  const shifts: { start: number; end: number }[] = [];
  for (const run of finalRuns(schedule, overrides, since.getTime(), until.getTime())) {
    if (run.user !== userId) continue;
    const last = shifts.at(-1);
    if (last && last.end === run.start) last.end = run.end;
    else shifts.push({ start: run.start, end: run.end });
  }
  return shifts.map((shift) => ({ start: new Date(shift.start), end: new Date(shift.end) }));
}

/**
 * How far `onCallAt` looks for the next change: as far as a final schedule may be asked for
 * (SPEC 11), so `until` can always be checked against `GET .../final?since=at`.
 */
export const ON_CALL_HORIZON_MS = MAX_WINDOW_MS;

/**
 * Who is on call at an instant, and `until`, the end of the final entry holding it: the next
 * instant the users change, or null when they do not change within ON_CALL_HORIZON_MS (a
 * one-person rotation, say). The search widens step by step, so the usual case (a change within
 * a day or a week) computes a short window only.
 */
export function onCallAt(schedule: ScheduleRules, overrides: readonly ScheduleOverride[], at: Date): { user_ids: string[]; until: Date | null } {
  const from = at.getTime();
  let first: Run | undefined;
  for (const reach of [DAY, 8 * DAY, 32 * DAY, ON_CALL_HORIZON_MS]) {
    first = finalRuns(schedule, overrides, from, from + reach)[0]!;
    // An entry that ends inside the window ends where the next (different) one begins: a real
    // change, whatever lies beyond the window.
    if (first.end < from + reach) return { user_ids: usersOf(first), until: new Date(first.end) };
  }
  return { user_ids: usersOf(first!), until: null };
}

const usersOf = (run: Run): string[] => (run.user === null ? [] : [run.user]);
const toEntry = (run: Run): FinalEntry => ({ start: new Date(run.start), end: new Date(run.end), user_ids: usersOf(run) });

interface RankedOverride {
  start: number;
  end: number;
  user: string;
  rank: number;
}

/**
 * The sweep: every boundary of every layer's shifts and every override (cut to the window),
 * sorted; between two neighbouring boundaries nothing changes, so each piece takes the winning
 * override or else the topmost layer with someone, and equal neighbours merge. Cost:
 * O(B log B + B x (layers + overlapping overrides)) for B boundaries, which grow with the window.
 */
function finalRuns(schedule: ScheduleRules, overrides: readonly ScheduleOverride[], since: number, until: number): Run[] {
  assert.ok(Number.isFinite(since) && Number.isFinite(until) && since <= until, 'a final schedule needs since <= until');
  if (since === until) return [];
  const zone = zoneTime(schedule.time_zone);
  const layers: Shift[][] = schedule.layers.map((layer) => layerShifts(layer, zone, since, until));

  // Last created wins; equal creation times (one transaction) are ordered by id, so the answer
  // never depends on the order the store returned them in.
  const ranked: RankedOverride[] = [...overrides]
    .sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((o, rank) => ({ start: Math.max(o.start.getTime(), since), end: Math.min(o.end.getTime(), until), user: o.user_id, rank }))
    .filter((o) => o.start < o.end)
    .sort((a, b) => a.start - b.start);

  // A typed array sorts numbers natively, without a comparator call per comparison.
  const boundaries = new Float64Array(2 + 2 * (ranked.length + layers.reduce((sum, shifts) => sum + shifts.length, 0)));
  let filled = 0;
  const add = (start: number, end: number) => {
    boundaries[filled++] = start;
    boundaries[filled++] = end;
  };
  add(since, until);
  for (const shifts of layers) for (const shift of shifts) add(shift.start, shift.end);
  for (const o of ranked) add(o.start, o.end);
  boundaries.sort();

  const runs: Run[] = [];
  const next = layers.map(() => 0); // per layer, the first shift that may still hold an instant
  const active: RankedOverride[] = [];
  let opened = 0; // overrides (by start) already active or over
  for (let b = 0; b < boundaries.length - 1; b++) {
    const start = boundaries[b]!;
    const end = boundaries[b + 1]!;
    if (start === end) continue;

    while (opened < ranked.length && ranked[opened]!.start <= start) active.push(ranked[opened++]!);
    let user: string | null = null;
    let rank = -1;
    let kept = 0;
    for (const o of active) {
      if (o.end <= start) continue; // over: dropped from the active list, in place
      active[kept++] = o;
      if (o.rank > rank) ({ user, rank } = o);
    }
    active.length = kept;

    for (let l = layers.length - 1; l >= 0 && user === null; l--) {
      const shifts = layers[l]!;
      let i = next[l]!;
      while (i < shifts.length && shifts[i]!.end <= start) i++;
      next[l] = i;
      if (i < shifts.length && shifts[i]!.start <= start) user = shifts[i]!.user;
    }

    const last = runs.at(-1);
    if (last && last.user === user) last.end = end;
    else runs.push({ start, end, user });
  }
  return runs;
}

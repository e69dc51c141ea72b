import { IANAZone } from 'luxon';

// SPEC section 11: a schedule's local date-times (a layer's `start`, every handoff of a `day` or
// `week` turn, the ends of restriction windows) are read in the schedule's IANA zone by one
// rule: a local time that does not exist (the clocks jump over it) is read with the offset in
// force before the change, and an ambiguous one (the clocks go back over it) is its first
// occurrence.
//
// luxon does not do this by itself: `DateTime.fromObject`/`fromISO` resolve an ambiguous time
// from a guess seeded with the zone's offset *now*, so 2026-10-25T02:30 in Europe/Berlin comes
// out as its second occurrence (+01:00) on a machine running in winter, and 2026-04-05T01:45 in
// Australia/Lord_Howe as its first. So the reading is done here, from the zone's offsets.
//
// Times are numbers of milliseconds. An *instant* is since the Unix epoch; a *wall* time is the
// zone's clock reading expressed on a UTC calendar (instant + offset), so adding 24 h to a wall
// time is "same local time, next day" whatever daylight saving does.

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** Every instant whose wall clock reads `w` lies within this of `w`: offsets run from -12 h to +14 h. */
const READING_REACH = 15 * HOUR;

/** Offsets changes within one UTC day, as [instant, offset after it] pairs; the first is the day's start. */
type DayOffsets = readonly (readonly [at: number, offset: number])[];

// luxon's IANAZone.offset formats a date with Intl (about 8 µs); a 93-day schedule reads
// thousands of local times. The offsets of a zone are memoised per UTC day: this is a cache of a
// pure function (the tz database does not change while the process runs), bounded so a caller
// sweeping across centuries cannot grow it without end.
const MEMO_LIMIT = 100_000;
const memo = new Map<string, Map<number, DayOffsets>>();
let memoSize = 0;

export interface ZoneTime {
  readonly name: string;
  /** The zone's offset from UTC at an instant, in milliseconds. */
  offset(at: number): number;
  /** The wall-clock reading at an instant. */
  wall(at: number): number;
  /** The instant a wall-clock reading denotes, by the SPEC 11 rule for handoffs (see the file's head). */
  instant(wall: number): number;
  /**
   * The first instant the clock reads `wall` or later: the same as `instant` except for a
   * skipped time, which the clock reaches at the jump. Never decreases as `wall` grows.
   */
  reached(wall: number): number;
}

/** The zone's clock; the name must be a valid IANA zone (see `timeZoneProblem`). */
export function zoneTime(name: string): ZoneTime {
  const zone = IANAZone.create(name);
  if (!zone.isValid) throw new RangeError(`unknown time zone ${name}`);
  let days = memo.get(name);
  if (!days) memo.set(name, (days = new Map()));
  const perDay = days;

  // Intl answers to the second; transitions fall on whole seconds.
  const sample = (at: number) => Math.round(zone.offset(at) * MINUTE);

  const day = (index: number): DayOffsets => {
    let offsets = perDay.get(index);
    if (offsets) return offsets;
    const start = index * DAY;
    const first = sample(start);
    const last = sample(start + DAY);
    const changes: [number, number][] = [[start, first]];
    // Assumed: a zone never changes its offset and changes it back within one UTC day (a day
    // of daylight saving), which two samples a day apart would miss. Several changes in a day
    // towards a new offset are found.
    if (first !== last) findChanges(sample, start, first, start + DAY, last, changes);
    offsets = changes;
    if (memoSize >= MEMO_LIMIT) {
      for (const map of memo.values()) map.clear();
      memoSize = 0;
    }
    perDay.set(index, offsets);
    memoSize++;
    return offsets;
  };

  const offset = (at: number): number => {
    const changes = day(Math.floor(at / DAY));
    for (let i = changes.length - 1; i > 0; i--) if (changes[i]![0] <= at) return changes[i]![1];
    return changes[0]![1];
  };

  const read = (wall: number, skipped: Skipped): number => {
    const firstDay = Math.floor((wall - READING_REACH) / DAY);
    const lastDay = Math.floor((wall + READING_REACH) / DAY);
    // The usual case: one offset all around, so one reading.
    const steady = day(firstDay)[0]![1];
    let changing = false;
    for (let d = firstDay; d <= lastDay && !changing; d++) {
      const changes = day(d);
      changing = changes.length > 1 || changes[0]![1] !== steady;
    }
    return changing ? readAround(wall, spansAround(day, firstDay, lastDay), skipped) : wall - steady;
  };

  return {
    name,
    offset,
    wall: (at) => at + offset(at),
    instant: (wall) => read(wall, 'offset-before'),
    reached: (wall) => read(wall, 'jump'),
  };
}

/** Bisects between two instants with different offsets, appending each change in order. */
function findChanges(sample: (at: number) => number, low: number, lowOffset: number, high: number, highOffset: number, out: [number, number][]): void {
  if (high - low <= 1000) {
    out.push([high, highOffset]);
    return;
  }
  const middle = low + Math.floor((high - low) / 2000) * 1000;
  const middleOffset = sample(middle);
  if (middleOffset !== lowOffset) findChanges(sample, low, lowOffset, middle, middleOffset, out);
  if (middleOffset !== highOffset) findChanges(sample, middle, middleOffset, high, highOffset, out);
}

/** How a skipped wall time is read: with the offset before the change (SPEC 11), or as the jump. */
type Skipped = 'offset-before' | 'jump';

interface Span {
  from: number;
  to: number;
  offset: number;
}

/** The zone's offsets as spans of instants from the start of `firstDay` to the end of `endDay`. */
function spansAround(day: (index: number) => DayOffsets, firstDay: number, endDay: number): Span[] {
  const spans: Span[] = [];
  for (let d = firstDay; d <= endDay; d++) {
    for (const [at, o] of day(d)) {
      const last = spans.at(-1);
      if (last && last.offset === o) continue;
      if (last) last.to = at;
      spans.push({ from: at, to: Infinity, offset: o });
    }
  }
  return spans;
}

/**
 * A wall time's reading: the earliest instant that reads it (the first occurrence of an
 * ambiguous time); when none does, the clocks jumped over it, and it is read with the offset in
 * force before the jump (SPEC 11: 02:30 on the night Berlin goes from 02:00 to 03:00 is 01:30
 * UTC, 03:30 on the new clock) or as the jump itself (01:00 UTC, when the clock reaches 02:30).
 */
function readAround(wall: number, spans: Span[], skipped: Skipped): number {
  let earliest = Infinity;
  for (const span of spans) {
    const at = wall - span.offset;
    if (at >= span.from && at < span.to && at < earliest) earliest = at;
  }
  if (earliest !== Infinity) return earliest;
  for (let i = 1; i < spans.length; i++) {
    const before = spans[i - 1]!.offset;
    const after = spans[i]!.offset;
    const change = spans[i]!.from;
    if (after > before && change + before <= wall && wall < change + after) return skipped === 'jump' ? change : wall - before;
  }
  // Unreachable while every reading lies within READING_REACH of its wall time.
  throw new Error(`no reading of wall time ${new Date(wall).toISOString()}`);
}

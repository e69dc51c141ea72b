import { IANAZone } from 'luxon';

// SPEC section 5: quiet hours are `HH:MM` to `HH:MM` in the user's IANA time zone and may wrap
// midnight (22:00 to 07:00). During them nothing but a P1 is delivered; what is held back goes
// out when they end.

export interface QuietHours {
  start: string;
  end: string;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const clockPattern = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** Minutes after midnight of an `HH:MM` time, or undefined when it is not one. */
export function clockMinutes(value: string): number | undefined {
  const match = clockPattern.exec(value);
  return match ? Number(match[1]) * 60 + Number(match[2]) : undefined;
}

/** Why a time zone name cannot be used, or null. Intl knows the IANA database Node ships. */
export function timeZoneProblem(timeZone: string): string | null {
  // Intl also takes bare offsets (+01:00); an offset knows nothing of daylight saving.
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(timeZone)) return 'must be an IANA time zone name such as Europe/Lisbon';
  try {
    new Intl.DateTimeFormat('en', { timeZone });
    return IANAZone.isValidZone(timeZone) ? null : 'must be an IANA time zone name such as Europe/Lisbon';
  } catch {
    return 'must be an IANA time zone name such as Europe/Lisbon';
  }
}

/** Why quiet hours are not usable, per field, or an empty list. */
export function quietHoursProblems(quiet: QuietHours): { field: 'start' | 'end'; message: string }[] {
  const problems: { field: 'start' | 'end'; message: string }[] = [];
  const start = clockMinutes(quiet.start);
  const end = clockMinutes(quiet.end);
  if (start === undefined) problems.push({ field: 'start', message: 'must be a time of day as HH:MM (00:00 to 23:59)' });
  if (end === undefined) problems.push({ field: 'end', message: 'must be a time of day as HH:MM (00:00 to 23:59)' });
  if (start !== undefined && start === end) problems.push({ field: 'end', message: 'must differ from start' });
  return problems;
}

/** The wall-clock reading at `at` in the zone, as milliseconds of a UTC calendar (so days are 24 h). */
function wallClock(zone: IANAZone, at: number): number {
  return at + zone.offset(at) * MINUTE;
}

function inWindow(minuteOfDay: number, start: number, end: number): boolean {
  return start < end ? minuteOfDay >= start && minuteOfDay < end : minuteOfDay >= start || minuteOfDay < end;
}

/** Whether `at` falls inside the quiet hours, read on the wall clock of the time zone. */
export function isQuiet(at: Date, timeZone: string, quiet: QuietHours): boolean {
  const zone = IANAZone.create(timeZone);
  const start = clockMinutes(quiet.start)!;
  const end = clockMinutes(quiet.end)!;
  const wall = wallClock(zone, at.getTime());
  return inWindow((((wall % DAY) + DAY) % DAY) / MINUTE, start, end);
}

/**
 * The first instant at or after `at` that is outside the quiet hours: `at` itself when it is not
 * in them, else the moment the wall clock first reads `end`.
 *
 * Daylight saving makes "today at 07:00" subtle: the time may not exist (the clocks jump over
 * it, and the quiet hours end at the jump) or exist twice (they end at the first). So the end is
 * found from the instants whose wall clock reads it, not by building a local date. When a jump
 * skips the whole time between end and start (00:00 to 00:01 on a night the clocks go from
 * midnight to 01:00), the wall clock never leaves the quiet hours that night, and the search
 * goes on to the next end.
 */
export function quietUntil(at: Date, timeZone: string, quiet: QuietHours): Date {
  const zone = IANAZone.create(timeZone);
  const start = clockMinutes(quiet.start)!;
  const end = clockMinutes(quiet.end)!;
  const minuteOfDay = (t: number) => {
    const wall = wallClock(zone, t);
    return (wall - Math.floor(wall / DAY) * DAY) / MINUTE;
  };
  let t = at.getTime();
  for (let tries = 0; tries < 4 && inWindow(minuteOfDay(t), start, end); tries++) t = nextEnd(zone, t, start, end);
  return new Date(t);
}

/** The first instant after `t` (which is in the quiet hours) whose wall clock reads `end` or later. */
function nextEnd(zone: IANAZone, t: number, start: number, end: number): number {
  const wall = wallClock(zone, t);
  const dayStart = Math.floor(wall / DAY) * DAY;
  const minuteOfDay = (wall - dayStart) / MINUTE;
  // The wall-clock time the quiet hours end at: today, or tomorrow when they wrap midnight and
  // it is still before midnight.
  const target = dayStart + end * MINUTE + (start > end && minuteOfDay >= start ? DAY : 0);
  // Every offset the zone could have around then; an instant reads `target` iff target - offset
  // is it and the zone really has that offset there.
  const offsets = [...new Set([-DAY, 0, DAY].map((shift) => zone.offset(target + shift) * MINUTE))];
  const readings = offsets
    .map((offset) => target - offset)
    .filter((instant) => instant > t && wallClock(zone, instant) === target)
    .sort((a, b) => a - b);
  if (readings.length > 0) return readings[0]!;

  // The clocks jump over `target`: the quiet hours end at the jump, the first instant whose wall
  // clock reads past it. Between the two bounds the wall clock only moves forward, so a binary
  // search finds it to the millisecond.
  let low = Math.max(t, target - Math.max(...offsets)); // reads before target
  let high = target - Math.min(...offsets); // reads after target
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (wallClock(zone, middle) >= target) high = middle;
    else low = middle;
  }
  return high;
}

/**
 * When something for a person may be delivered: at once when it is urgent (a P1 page) or outside
 * their quiet hours, else when the quiet hours end.
 */
export function releaseTime(at: Date, urgent: boolean, timeZone: string, quiet: QuietHours | null): Date {
  if (urgent || quiet === null) return at;
  return quietUntil(at, timeZone, quiet);
}

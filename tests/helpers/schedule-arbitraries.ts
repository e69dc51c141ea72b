import fc from 'fast-check';
import type { FinalEntry, Layer, Restriction, ScheduleOverride, TurnUnit, Weekday } from '../../src/domain/schedule.ts';
import { localString, wallOf } from './zone-oracle.ts';

// Generators for SPEC 11 schedules, biased towards where daylight saving hides mistakes: zones
// with DST, half- and three-quarter-hour offsets, a 30-minute DST shift (Lord Howe), changes at
// midnight (Santiago) and a skipped day (Apia, 2011-12-30); local times near the changes.

export const zones = [
  'UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'Asia/Kathmandu',
  'Pacific/Chatham', 'America/St_Johns', 'Pacific/Apia', 'America/Santiago', 'Asia/Tehran',
];

// Local dates of changes in those zones (any zone may meet any date: elsewhere it is a plain day).
const changeDays = [
  '2026-03-29', '2026-10-25', // Berlin
  '2026-03-08', '2026-11-01', // New York, St John's
  '2026-04-05', '2026-10-04', // Lord Howe (30 minutes); Chatham and Santiago in April too
  '2026-09-27', // Chatham
  '2026-09-06', // Santiago, where midnight is skipped
  '2011-12-29', // Apia skipped 2011-12-30
];

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const clockTimes = ['00:00', '00:30', '01:00', '01:30', '01:45', '02:00', '02:15', '02:30', '02:45', '03:00', '03:30', '09:00', '17:45', '23:00', '23:30'];
const clock = fc.oneof(
  fc.constantFrom(...clockTimes),
  fc.integer({ min: 0, max: 1439 }).map((m) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`),
);

/** A base wall time (midnight of a day near a change). */
export const baseDay = fc.constantFrom(...changeDays).map((day) => wallOf(`${day}T00:00`));

/** A local start a few days around `base`, at an awkward time of day. */
export const localStart = (base: number) =>
  fc.tuple(fc.integer({ min: -4, max: 1 }), clock).map(([days, time]) => `${localString(base + days * DAY).slice(0, 10)}T${time}`);

export const users = ['u1', 'u2', 'u3', 'u4'];
const weekdays: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export const restriction: fc.Arbitrary<Restriction> = fc.record({
  days: fc.subarray(weekdays, { minLength: 1 }),
  start: clock,
  end: clock,
});

export const turn = fc.oneof(
  fc.record({ count: fc.integer({ min: 1, max: 30 }), unit: fc.constant<TurnUnit>('hour') }),
  fc.record({ count: fc.integer({ min: 1, max: 3 }), unit: fc.constant<TurnUnit>('day') }),
  fc.record({ count: fc.integer({ min: 1, max: 2 }), unit: fc.constant<TurnUnit>('week') }),
);

export const layer = (base: number, options: { restrictions?: boolean } = {}): fc.Arbitrary<Layer> =>
  fc.record({
    name: fc.constant('layer'),
    user_ids: fc.array(fc.constantFrom(...users), { minLength: 1, maxLength: 4 }),
    start: localStart(base),
    turn,
    restrictions: options.restrictions === false ? fc.constant([]) : fc.array(restriction, { maxLength: 2 }),
  });

/** A window of instants around `base`: `[since, until)`. */
export const window = (base: number, maxDays = 12) =>
  fc
    .tuple(fc.integer({ min: -3 * 24 * 4, max: 8 * 24 * 4 }), fc.integer({ min: 1, max: maxDays * 24 * 4 }))
    .map(([from, length]) => ({ since: base + from * 15 * 60_000, until: base + (from + length) * 15 * 60_000 }));

/** Overrides around a window, some overlapping, creation times that may tie. */
export const overrides = (since: number, until: number): fc.Arbitrary<ScheduleOverride[]> =>
  fc
    .array(
      fc.record({
        user_id: fc.constantFrom('o1', 'o2', 'u1'),
        from: fc.integer({ min: since - DAY, max: until + DAY }),
        minutes: fc.integer({ min: 1, max: 3 * 24 * 60 }),
        created: fc.integer({ min: 0, max: 5 }),
      }),
      { maxLength: 5 },
    )
    .map((list) =>
      list.map((o, i) => ({
        id: `override-${String.fromCharCode(97 + ((i * 7) % 26))}${i}`,
        user_id: o.user_id,
        start: new Date(o.from),
        end: new Date(o.from + o.minutes * 60_000),
        created_at: new Date(Date.UTC(2026, 0, 1) + o.created * 1000),
      })),
    );

/** Who the entries have on call at an instant (undefined outside them). */
export function usersAt(entries: readonly FinalEntry[], at: number): string[] | undefined {
  return entries.find((e) => e.start.getTime() <= at && at < e.end.getTime())?.user_ids;
}

/** Every start and end of the entries, sorted, without repeats. */
export function boundaries(...lists: (readonly { start: Date; end: Date }[])[]): number[] {
  const set = new Set<number>();
  for (const list of lists) for (const e of list) set.add(e.start.getTime()).add(e.end.getTime());
  return [...set].sort((a, b) => a - b);
}

export const plain = (entries: readonly FinalEntry[]) =>
  entries.map((e) => `${e.start.toISOString()}/${e.end.toISOString()} ${e.user_ids.join(',') || '-'}`);

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isQuiet, quietHoursProblems, quietUntil, releaseTime, timeZoneProblem } from '../src/domain/quiet-hours.ts';

// SPEC section 5: quiet hours in the user's time zone, wrapping midnight, held pages released
// when they end. The oracle below reads wall clocks with Intl, independently of the code under
// test (which uses luxon's zone offsets).

const zones = [
  'UTC', 'America/New_York', 'America/Sao_Paulo', 'America/Santiago', 'America/St_Johns', 'Europe/Lisbon', 'Europe/Berlin',
  'Asia/Kolkata', 'Asia/Kathmandu', 'Australia/Lord_Howe', 'Australia/Sydney', 'Pacific/Chatham', 'Pacific/Apia', 'Asia/Tehran',
];

// Days the clocks jump in some of these zones: instants near them are where mistakes hide.
const transitions = [
  '2026-03-08T07:00:00Z', '2026-11-01T06:00:00Z', // New York
  '2026-03-29T01:00:00Z', '2026-10-25T01:00:00Z', // Lisbon, Berlin
  '2026-04-04T15:00:00Z', '2026-10-03T15:30:00Z', // Lord Howe (half an hour)
  '2026-04-05T03:00:00Z', '2026-09-06T04:00:00Z', // Santiago (at midnight)
  '2026-04-04T14:00:00Z', '2026-09-26T14:00:00Z', // Chatham
  '2011-12-30T10:00:00Z', // Apia skipped a whole day
  '2019-02-17T02:00:00Z', // Sao Paulo's last change
].map((iso) => Date.parse(iso));

const formatters = new Map<string, Intl.DateTimeFormat>();
/** Minutes since local midnight on the zone's wall clock, with seconds and milliseconds. */
function wallMinutes(at: Date, zone: string): number {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    formatters.set(zone, format);
  }
  const part = (type: string) => Number(format.formatToParts(at).find((p) => p.type === type)!.value);
  return part('hour') * 60 + part('minute') + (part('second') * 1000 + at.getUTCMilliseconds()) / 60_000;
}

function quietByOracle(at: Date, zone: string, start: number, end: number): boolean {
  const m = wallMinutes(at, zone);
  return start < end ? m >= start && m < end : m >= start || m < end;
}

const hhmm = (minutes: number) => `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;

const instant = fc.oneof(
  fc.integer({ min: Date.parse('2020-01-01T00:00:00Z'), max: Date.parse('2031-01-01T00:00:00Z') }),
  fc.tuple(fc.constantFrom(...transitions), fc.integer({ min: -40 * 3600_000, max: 40 * 3600_000 })).map(([t, shift]) => t + shift),
).map((ms) => new Date(ms));

// Clock times, biased towards the ones daylight saving makes awkward (inside a jump, midnight).
const clockTime = fc.oneof(fc.integer({ min: 0, max: 1439 }), fc.constantFrom(0, 60, 90, 120, 150, 165, 180, 1410));
const quietHours = fc.tuple(clockTime, clockTime).filter(([s, e]) => s !== e);

describe('quietUntil (property)', () => {
  it('returns the first instant outside the quiet hours, in every zone, across daylight saving changes', () => {
    fc.assert(
      fc.property(instant, fc.constantFrom(...zones), quietHours, fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (at, zone, [s, e], fraction) => {
        const quiet = { start: hhmm(s), end: hhmm(e) };
        const released = quietUntil(at, zone, quiet);
        const wait = released.getTime() - at.getTime();
        expect(wait).toBeGreaterThanOrEqual(0);
        // Never longer than a day, plus the day Apia skipped.
        expect(wait).toBeLessThanOrEqual(48 * 3600_000);
        expect(isQuiet(at, zone, quiet)).toBe(quietByOracle(at, zone, s, e));
        if (!quietByOracle(at, zone, s, e)) {
          expect(released.getTime()).toBe(at.getTime());
          return;
        }
        // Released outside the quiet hours, and not a millisecond late: just before was quiet,
        // and so is any instant between.
        expect(quietByOracle(released, zone, s, e)).toBe(false);
        expect(quietByOracle(new Date(released.getTime() - 1), zone, s, e)).toBe(true);
        expect(quietByOracle(new Date(at.getTime() + Math.floor(wait * fraction)), zone, s, e)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('releases a P1 at once, and anything at once without quiet hours', () => {
    fc.assert(
      fc.property(instant, fc.constantFrom(...zones), quietHours, (at, zone, [s, e]) => {
        expect(releaseTime(at, true, zone, { start: hhmm(s), end: hhmm(e) })).toEqual(at);
        expect(releaseTime(at, false, zone, null)).toEqual(at);
      }),
    );
  });
});

describe('quietUntil (examples)', () => {
  it('wraps midnight: 23:30 in Lisbon waits for 07:00 the next morning', () => {
    // 2026-07-01 23:30 in Lisbon (UTC+1) is 22:30Z; 07:00 on the 2nd is 06:00Z.
    expect(quietUntil(new Date('2026-07-01T22:30:00Z'), 'Europe/Lisbon', { start: '22:00', end: '07:00' }).toISOString()).toBe('2026-07-02T06:00:00.000Z');
    // 05:00 is after midnight: the same morning.
    expect(quietUntil(new Date('2026-07-02T04:00:00Z'), 'Europe/Lisbon', { start: '22:00', end: '07:00' }).toISOString()).toBe('2026-07-02T06:00:00.000Z');
    // 12:00 is not quiet.
    expect(quietUntil(new Date('2026-07-02T11:00:00Z'), 'Europe/Lisbon', { start: '22:00', end: '07:00' }).toISOString()).toBe('2026-07-02T11:00:00.000Z');
  });

  it('ends at the jump when the clocks skip the end time', () => {
    // New York, 2026-03-08: 02:00 EST becomes 03:00 EDT at 07:00Z; 02:30 never happens.
    expect(quietUntil(new Date('2026-03-08T05:00:00Z'), 'America/New_York', { start: '23:00', end: '02:30' }).toISOString()).toBe('2026-03-08T07:00:00.000Z');
  });

  it('ends at the first of two 01:30s when the clocks go back', () => {
    // New York, 2026-11-01: 01:30 EDT is 05:30Z, and 01:30 EST an hour later.
    expect(quietUntil(new Date('2026-11-01T03:00:00Z'), 'America/New_York', { start: '22:00', end: '01:30' }).toISOString()).toBe('2026-11-01T05:30:00.000Z');
  });

  it('checks time zone names and HH:MM times', () => {
    expect(timeZoneProblem('Europe/Lisbon')).toBeNull();
    expect(timeZoneProblem('Mars/Olympus_Mons')).toMatch(/IANA/);
    expect(timeZoneProblem('')).toMatch(/IANA/);
    expect(quietHoursProblems({ start: '22:00', end: '07:00' })).toEqual([]);
    expect(quietHoursProblems({ start: '24:00', end: '7:00' }).map((p) => p.field)).toEqual(['start', 'end']);
    expect(quietHoursProblems({ start: '08:00', end: '08:00' })).toEqual([{ field: 'end', message: 'must differ from start' }]);
  });
});

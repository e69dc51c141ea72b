import { describe, expect, it } from 'vitest';
import { finalSchedule, onCallAt, scheduleGaps, userShifts } from '../src/domain/schedule-final.ts';
import type { Layer, ScheduleOverride, ScheduleRules } from '../src/domain/schedule.ts';
import { rotation } from '../src/domain/schedule-layer.ts';
import { zoneTime } from '../src/domain/schedule-zone.ts';
import { plain } from './helpers/schedule-arbitraries.ts';

// SPEC section 11, pinned to answers worked out by hand from the zones' 2026 rules:
// - Europe/Berlin: +01:00, +02:00 from 29 Mar 01:00Z (02:00 → 03:00) to 25 Oct 01:00Z (03:00 → 02:00).
// - America/New_York: -05:00, -04:00 from 8 Mar 07:00Z (02:00 → 03:00) to 1 Nov 06:00Z (02:00 → 01:00).
// - Australia/Lord_Howe: +11:00 until 4 Apr 15:00Z (5 Apr 02:00 → 01:30), +10:30 until
//   3 Oct 15:30Z (4 Oct 02:00 → 02:30), +11:00 after: a half-hour change.

const d = (iso: string) => new Date(iso);
const layer = (start: string, unit: Layer['turn']['unit'], users: string[], more: Partial<Layer> = {}): Layer => ({
  name: 'layer', user_ids: users, start, turn: { count: 1, unit }, ...more,
});
const final = (zone: string, layers: Layer[], since: string, until: string, overrides: ScheduleOverride[] = []) =>
  plain(finalSchedule({ time_zone: zone, layers }, overrides, d(since), d(until)));
/** An expected entry, `user` '-' for a gap. */
const e = (start: string, end: string, user: string) => `${d(start).toISOString()}/${d(end).toISOString()} ${user}`;

describe('Europe/Berlin, 2026', () => {
  const spring = layer('2026-03-27T02:30', 'day', ['A', 'B']);

  it('a daily 02:30 handoff on the night 02:30 is skipped comes at 03:30 (read at +01:00), then at 02:30 again', () => {
    expect(final('Europe/Berlin', [spring], '2026-03-26T00:00Z', '2026-03-31T00:00Z')).toEqual([
      e('2026-03-26T00:00Z', '2026-03-27T01:30Z', '-'), // before its start the layer has nobody
      e('2026-03-27T01:30Z', '2026-03-28T01:30Z', 'A'),
      e('2026-03-28T01:30Z', '2026-03-29T01:30Z', 'B'),
      e('2026-03-29T01:30Z', '2026-03-30T00:30Z', 'A'), // 23 hours
      e('2026-03-30T00:30Z', '2026-03-31T00:00Z', 'B'),
    ]);
  });

  it('at 03:10 on that night the turn that began the day before still runs', () => {
    expect(onCallAt({ time_zone: 'Europe/Berlin', layers: [spring] }, [], d('2026-03-29T01:10Z'))).toEqual({ user_ids: ['B'], until: d('2026-03-29T01:30Z') });
  });

  it('a daily 02:30 handoff on the night 02:30 happens twice comes at the first, and that turn lasts 25 hours', () => {
    const autumn = layer('2026-10-24T02:30', 'day', ['A', 'B']);
    expect(final('Europe/Berlin', [autumn], '2026-10-24T00:00Z', '2026-10-26T12:00Z')).toEqual([
      e('2026-10-24T00:00Z', '2026-10-24T00:30Z', '-'),
      e('2026-10-24T00:30Z', '2026-10-25T00:30Z', 'A'),
      e('2026-10-25T00:30Z', '2026-10-26T01:30Z', 'B'),
      e('2026-10-26T01:30Z', '2026-10-26T12:00Z', 'A'),
    ]);
    // 02:10 on the second pass (01:10Z) is after the handoff at the first 02:30.
    expect(onCallAt({ time_zone: 'Europe/Berlin', layers: [autumn] }, [], d('2026-10-25T01:10Z'))).toEqual({ user_ids: ['B'], until: d('2026-10-26T01:30Z') });
  });

  it('a weekly Monday 09:00 handoff stays at 09:00, so the turn across the change lasts 167 hours', () => {
    expect(final('Europe/Berlin', [layer('2026-03-23T09:00', 'week', ['A', 'B'])], '2026-03-23T08:00Z', '2026-04-06T07:00Z')).toEqual([
      e('2026-03-23T08:00Z', '2026-03-30T07:00Z', 'A'),
      e('2026-03-30T07:00Z', '2026-04-06T07:00Z', 'B'),
    ]);
  });

  it('hour turns are elapsed time: 8-hour turns from 20:00 hand off at 05:00 and 13:00 after the change', () => {
    const hours = layer('2026-03-28T20:00', 'hour', ['A', 'B'], { turn: { count: 8, unit: 'hour' } });
    expect(final('Europe/Berlin', [hours], '2026-03-28T19:00Z', '2026-03-29T19:00Z')).toEqual([
      e('2026-03-28T19:00Z', '2026-03-29T03:00Z', 'A'),
      e('2026-03-29T03:00Z', '2026-03-29T11:00Z', 'B'),
      e('2026-03-29T11:00Z', '2026-03-29T19:00Z', 'A'),
    ]);
  });

  it('a Saturday 22:00-06:00 restriction on the spring night lasts 7 hours', () => {
    const nights = layer('2026-03-23T12:00', 'day', ['A'], { restrictions: [{ days: ['sat'], start: '22:00', end: '06:00' }] });
    expect(final('Europe/Berlin', [nights], '2026-03-28T12:00Z', '2026-03-29T12:00Z')).toEqual([
      e('2026-03-28T12:00Z', '2026-03-28T21:00Z', '-'),
      e('2026-03-28T21:00Z', '2026-03-29T04:00Z', 'A'),
      e('2026-03-29T04:00Z', '2026-03-29T12:00Z', '-'),
    ]);
  });

  it('overrides replace the layers inside their window, and the one created last wins', () => {
    const created = (minute: number) => d(`2026-03-01T00:0${minute}Z`);
    const overrides: ScheduleOverride[] = [
      { id: 'o1', user_id: 'X', start: d('2026-03-28T12:00Z'), end: d('2026-03-29T12:00Z'), created_at: created(1) },
      { id: 'o2', user_id: 'Y', start: d('2026-03-29T00:00Z'), end: d('2026-03-29T06:00Z'), created_at: created(0) }, // hidden under o1
      { id: 'o3', user_id: 'Y', start: d('2026-03-29T10:00Z'), end: d('2026-03-30T06:00Z'), created_at: created(2) },
    ];
    expect(final('Europe/Berlin', [spring], '2026-03-27T00:00Z', '2026-03-31T00:00Z', overrides)).toEqual([
      e('2026-03-27T00:00Z', '2026-03-27T01:30Z', '-'),
      e('2026-03-27T01:30Z', '2026-03-28T01:30Z', 'A'),
      e('2026-03-28T01:30Z', '2026-03-28T12:00Z', 'B'),
      e('2026-03-28T12:00Z', '2026-03-29T10:00Z', 'X'),
      e('2026-03-29T10:00Z', '2026-03-30T06:00Z', 'Y'),
      e('2026-03-30T06:00Z', '2026-03-31T00:00Z', 'B'),
    ]);
  });

  it('a later layer wins where it has someone; the earlier one shows through elsewhere', () => {
    const office = layer('2026-03-23T00:00', 'week', ['C'], { restrictions: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }] });
    expect(final('Europe/Berlin', [spring, office], '2026-03-27T00:00Z', '2026-03-28T12:00Z')).toEqual([
      e('2026-03-27T00:00Z', '2026-03-27T01:30Z', '-'),
      e('2026-03-27T01:30Z', '2026-03-27T08:00Z', 'A'), // Friday
      e('2026-03-27T08:00Z', '2026-03-27T16:00Z', 'C'),
      e('2026-03-27T16:00Z', '2026-03-28T01:30Z', 'A'),
      e('2026-03-28T01:30Z', '2026-03-28T12:00Z', 'B'), // Saturday: not restricted to C
    ]);
  });
});

describe('America/New_York, 2026', () => {
  const march = layer('2026-03-07T02:30', 'day', ['A', 'B', 'C']);
  const schedule: ScheduleRules = { time_zone: 'America/New_York', layers: [march] };

  it('a daily 02:30 handoff comes at 03:30 EDT on 8 March (read at -05:00), and the next turn lasts 23 hours', () => {
    expect(final('America/New_York', [march], '2026-03-07T00:00Z', '2026-03-10T06:30Z')).toEqual([
      e('2026-03-07T00:00Z', '2026-03-07T07:30Z', '-'),
      e('2026-03-07T07:30Z', '2026-03-08T07:30Z', 'A'),
      e('2026-03-08T07:30Z', '2026-03-09T06:30Z', 'B'),
      e('2026-03-09T06:30Z', '2026-03-10T06:30Z', 'C'),
    ]);
    expect(plain(scheduleGaps(schedule, [], d('2026-03-07T00:00Z'), d('2026-03-10T06:30Z')))).toEqual([e('2026-03-07T00:00Z', '2026-03-07T07:30Z', '-')]);
    expect(userShifts(schedule, [], 'B', d('2026-03-01T00:00Z'), d('2026-03-12T00:00Z'))).toEqual([
      { start: d('2026-03-08T07:30Z'), end: d('2026-03-09T06:30Z') },
      { start: d('2026-03-11T06:30Z'), end: d('2026-03-12T00:00Z') },
    ]);
  });

  it('a daily 01:30 handoff on 1 November comes at the first 01:30 (EDT), and that turn lasts 25 hours', () => {
    expect(final('America/New_York', [layer('2026-10-31T01:30', 'day', ['A', 'B'])], '2026-10-31T05:30Z', '2026-11-02T06:30Z')).toEqual([
      e('2026-10-31T05:30Z', '2026-11-01T05:30Z', 'A'),
      e('2026-11-01T05:30Z', '2026-11-02T06:30Z', 'B'),
    ]);
  });

  it('12-hour turns from midnight hand off at 13:00 EDT on the day the clocks go forward', () => {
    const hours = layer('2026-03-08T00:00', 'hour', ['A', 'B'], { turn: { count: 12, unit: 'hour' } });
    expect(final('America/New_York', [hours], '2026-03-08T05:00Z', '2026-03-09T05:00Z')).toEqual([
      e('2026-03-08T05:00Z', '2026-03-08T17:00Z', 'A'),
      e('2026-03-08T17:00Z', '2026-03-09T05:00Z', 'B'),
    ]);
  });

  it('a Saturday 22:00-06:00 restriction on the autumn night lasts 9 hours', () => {
    const nights = layer('2026-10-01T00:00', 'week', ['A'], { restrictions: [{ days: ['sat'], start: '22:00', end: '06:00' }] });
    expect(final('America/New_York', [nights], '2026-11-01T00:00Z', '2026-11-01T12:00Z')).toEqual([
      e('2026-11-01T00:00Z', '2026-11-01T02:00Z', '-'),
      e('2026-11-01T02:00Z', '2026-11-01T11:00Z', 'A'),
      e('2026-11-01T11:00Z', '2026-11-01T12:00Z', '-'),
    ]);
  });
});

describe('Australia/Lord_Howe, 2026 (half-hour changes)', () => {
  it('a daily 01:45 handoff on 5 April comes at the first 01:45 (+11:00), and that turn lasts 24.5 hours', () => {
    expect(final('Australia/Lord_Howe', [layer('2026-04-04T01:45', 'day', ['A', 'B'])], '2026-04-03T14:45Z', '2026-04-06T15:15Z')).toEqual([
      e('2026-04-03T14:45Z', '2026-04-04T14:45Z', 'A'),
      e('2026-04-04T14:45Z', '2026-04-05T15:15Z', 'B'),
      e('2026-04-05T15:15Z', '2026-04-06T15:15Z', 'A'),
    ]);
  });

  it('a daily 02:15 handoff on 4 October comes at 02:45 (read at +10:30), and that turn lasts 23.5 hours', () => {
    expect(final('Australia/Lord_Howe', [layer('2026-10-03T02:15', 'day', ['A', 'B'])], '2026-10-02T15:45Z', '2026-10-05T15:15Z')).toEqual([
      e('2026-10-02T15:45Z', '2026-10-03T15:45Z', 'A'),
      e('2026-10-03T15:45Z', '2026-10-04T15:15Z', 'B'),
      e('2026-10-04T15:15Z', '2026-10-05T15:15Z', 'A'),
    ]);
  });

  it('24-hour turns are elapsed time: from 12:00 on 4 April the next handoff is at 11:30', () => {
    const hours = layer('2026-04-04T12:00', 'hour', ['A', 'B'], { turn: { count: 24, unit: 'hour' } });
    expect(final('Australia/Lord_Howe', [hours], '2026-04-04T01:00Z', '2026-04-06T01:00Z')).toEqual([
      e('2026-04-04T01:00Z', '2026-04-05T01:00Z', 'A'),
      e('2026-04-05T01:00Z', '2026-04-06T01:00Z', 'B'),
    ]);
  });

  it('restriction windows open and close when the clock reads their times, across the October jump', () => {
    const restricted = (start: string, end: string) => layer('2026-09-01T00:00', 'week', ['A'], { restrictions: [{ days: ['sat'], start, end }] });
    // Saturday 23:00 (+10:30) to Sunday 03:00 (+11:00): three and a half hours.
    expect(final('Australia/Lord_Howe', [restricted('23:00', '03:00')], '2026-10-03T12:00Z', '2026-10-03T17:00Z')).toEqual([
      e('2026-10-03T12:00Z', '2026-10-03T12:30Z', '-'),
      e('2026-10-03T12:30Z', '2026-10-03T16:00Z', 'A'),
      e('2026-10-03T16:00Z', '2026-10-03T17:00Z', '-'),
    ]);
    // Ending at 02:15, which the clock skips: the window closes at the jump (02:00 → 02:30).
    expect(final('Australia/Lord_Howe', [restricted('22:00', '02:15')], '2026-10-03T11:00Z', '2026-10-03T17:00Z')).toEqual([
      e('2026-10-03T11:00Z', '2026-10-03T11:30Z', '-'),
      e('2026-10-03T11:30Z', '2026-10-03T15:30Z', 'A'),
      e('2026-10-03T15:30Z', '2026-10-03T17:00Z', '-'),
    ]);
  });
});

describe('Pacific/Apia, the day it skipped', () => {
  it('gives the turn of 30 December 2011, a day that never was, no time at all', () => {
    // -10:00 until 2011-12-30T10:00Z, then +14:00: local 29 December 24:00 was 31 December
    // 00:00. Noon on the 30th, skipped, is read at -10:00 (22:00Z), the same instant as noon on
    // the 31st: C's turn is empty, and the rotation moves on all the same.
    const daily = layer('2011-12-28T12:00', 'day', ['A', 'B', 'C']);
    expect(final('Pacific/Apia', [daily], '2011-12-28T22:00Z', '2012-01-01T22:00Z')).toEqual([
      e('2011-12-28T22:00Z', '2011-12-29T22:00Z', 'A'),
      e('2011-12-29T22:00Z', '2011-12-30T22:00Z', 'B'),
      e('2011-12-30T22:00Z', '2011-12-31T22:00Z', 'A'),
      e('2011-12-31T22:00Z', '2012-01-01T22:00Z', 'B'),
    ]);
  });
});

describe('the turn at an instant', () => {
  it('is the estimate from the wall clock, corrected against the handoff instants', () => {
    const berlin = zoneTime('Europe/Berlin');
    // 03:10 CEST on 29 March reads after 02:30, but that day's handoff is at 03:30: turn 1.
    const spring = rotation(layer('2026-03-27T02:30', 'day', ['A', 'B']), berlin);
    expect(spring.turnAt(Date.parse('2026-03-29T01:10Z'))).toBe(1);
    expect(spring.turnAt(Date.parse('2026-03-29T01:30Z'))).toBe(2);
    // 02:10 on the second pass of 25 October reads before 02:30, but comes after the handoff at
    // the first 02:30: turn 1.
    const autumn = rotation(layer('2026-10-24T02:30', 'day', ['A', 'B']), berlin);
    expect(autumn.turnAt(Date.parse('2026-10-25T01:10Z'))).toBe(1);
    expect(autumn.turnAt(Date.parse('2026-10-25T00:29Z'))).toBe(0);
  });
});

describe('a rotation started long ago', () => {
  it('is computed from its start without walking: a daily rotation from 1990 gives the turn counted in days', () => {
    // 1990-01-01 to 2026-03-27 is 13234 days: turn 13234, user 13234 mod 3 = 1 (B) from
    // 27 March 09:00 CET (08:00Z), then C from 28 March.
    const old = layer('1990-01-01T09:00', 'day', ['A', 'B', 'C']);
    expect(final('Europe/Berlin', [old], '2026-03-27T12:00Z', '2026-03-30T12:00Z')).toEqual([
      e('2026-03-27T12:00Z', '2026-03-28T08:00Z', 'B'),
      e('2026-03-28T08:00Z', '2026-03-29T07:00Z', 'C'), // 09:00 CEST on the 29th
      e('2026-03-29T07:00Z', '2026-03-30T07:00Z', 'A'),
      e('2026-03-30T07:00Z', '2026-03-30T12:00Z', 'B'),
    ]);
  });
});

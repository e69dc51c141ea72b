import { describe, expect, it } from 'vitest';
import { DomainError } from '../src/domain/errors.ts';
import { overrideProblems, scheduleProblems, validateSchedule, windowProblems, type Layer } from '../src/domain/schedule.ts';

// SPEC sections 2 and 11: what makes a schedule, an override or a window unusable, each problem
// naming its field so the 400 VALIDATION_ERROR says what to fix.

const good: Layer = {
  name: 'primary',
  user_ids: ['u1', 'u2', 'u1'],
  start: '2026-01-05T09:00',
  turn: { count: 1, unit: 'week' },
  restrictions: [{ days: ['mon', 'fri'], start: '22:00', end: '06:00' }],
};
const fields = (layers: unknown[], time_zone = 'Europe/Berlin') =>
  scheduleProblems({ time_zone, layers: layers as Layer[] }).map((p) => p.field);

describe('scheduleProblems', () => {
  it('accepts a usual schedule, users repeated and a window past midnight or of a whole day', () => {
    expect(scheduleProblems({ name: 'ops', time_zone: 'Australia/Lord_Howe', layers: [good, { ...good, restrictions: [{ days: ['sun'], start: '09:00', end: '09:00' }] }] })).toEqual([]);
    // A start the clocks skip is still a start: SPEC 11 says how to read it.
    expect(fields([{ ...good, start: '2026-03-29T02:30' }])).toEqual([]);
  });

  it('names each bad field by its dotted path under body', () => {
    expect(fields([good], 'Mars/Olympus')).toEqual(['body.time_zone']);
    expect(fields([good], '+01:00')).toEqual(['body.time_zone']);
    expect(fields([])).toEqual(['body.layers']);
    expect(fields(Array.from({ length: 21 }, () => good))).toEqual(['body.layers']);
    expect(fields([good, { ...good, name: '  ' }])).toEqual(['body.layers.1.name']);
    expect(fields([{ ...good, user_ids: [] }])).toEqual(['body.layers.0.user_ids']);
    expect(fields([{ ...good, user_ids: ['u1', ''] }])).toEqual(['body.layers.0.user_ids.1']);
    expect(fields([{ ...good, user_ids: Array.from({ length: 101 }, (_, i) => `u${i}`) }])).toEqual(['body.layers.0.user_ids']);
    expect(fields([good, null])).toEqual(['body.layers.1']);
    expect(fields([{ ...good, restrictions: [null] }])).toEqual(['body.layers.0.restrictions.0']);
    expect(fields([{ ...good, turn: undefined }])).toEqual(['body.layers.0.turn.unit']);
  });

  it('wants a real local date-time for start, in a sane year', () => {
    for (const start of ['2026-02-30T09:00', '2026-01-05 09:00', '2026-01-05T24:00', '2026-01-05T09:00:00', '2026-01-05T09:00Z', '1969-12-31T23:00', '3000-01-01T00:00']) {
      expect(fields([{ ...good, start }]), start).toEqual(['body.layers.0.start']);
    }
  });

  it('wants a turn of 1 up to a year of whole hours, days or weeks', () => {
    expect(fields([{ ...good, turn: { count: 0, unit: 'day' } }])).toEqual(['body.layers.0.turn.count']);
    expect(fields([{ ...good, turn: { count: 1.5, unit: 'hour' } }])).toEqual(['body.layers.0.turn.count']);
    expect(fields([{ ...good, turn: { count: 53, unit: 'week' } }])).toEqual(['body.layers.0.turn.count']);
    expect(fields([{ ...good, turn: { count: 8760, unit: 'hour' } }])).toEqual([]);
    expect(fields([{ ...good, turn: { count: 1, unit: 'month' } }])).toEqual(['body.layers.0.turn.unit']);
  });

  it('wants restrictions with known days, each once, and HH:MM times', () => {
    const restricted = (restriction: unknown) => fields([{ ...good, restrictions: [good.restrictions![0], restriction] }]);
    expect(restricted({ days: [], start: '09:00', end: '17:00' })).toEqual(['body.layers.0.restrictions.1.days']);
    expect(restricted({ days: ['mon', 'funday'], start: '09:00', end: '17:00' })).toEqual(['body.layers.0.restrictions.1.days.1']);
    expect(restricted({ days: ['mon', 'mon'], start: '09:00', end: '17:00' })).toEqual(['body.layers.0.restrictions.1.days.1']);
    expect(restricted({ days: ['mon'], start: '9:00', end: '24:00' })).toEqual(['body.layers.0.restrictions.1.start', 'body.layers.0.restrictions.1.end']);
    expect(fields([{ ...good, restrictions: Array.from({ length: 51 }, () => good.restrictions![0]) }])).toEqual(['body.layers.0.restrictions']);
  });
});

describe('validateSchedule', () => {
  it('throws VALIDATION_ERROR with every problem in details', () => {
    try {
      validateSchedule({ name: 'ops', time_zone: 'Nowhere', layers: [{ ...good, start: 'soon' }] });
      expect.fail('accepted a bad schedule');
    } catch (error) {
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe('VALIDATION_ERROR');
      expect((error as DomainError).details).toEqual([
        { field: 'body.time_zone', message: expect.any(String) },
        { field: 'body.layers.0.start', message: 'must be a local date-time as YYYY-MM-DDTHH:mm, such as 2026-01-05T09:00' },
      ]);
      expect((error as DomainError).message).toContain('body.layers.0.start');
    }
  });

  it('returns a good schedule as it is', () => {
    const input = { name: 'ops', time_zone: 'UTC', layers: [good] };
    expect(validateSchedule(input)).toBe(input);
  });
});

describe('overrides and windows', () => {
  it('wants an override to end after it starts', () => {
    expect(overrideProblems({ start: new Date('2026-01-01T10:00Z'), end: new Date('2026-01-01T10:00Z') })).toEqual([{ field: 'body.end', message: 'must be after start' }]);
    expect(overrideProblems({ start: new Date('nope'), end: new Date('2026-01-01T10:00Z') }).map((p) => p.field)).toEqual(['body.start']);
    expect(overrideProblems({ start: new Date('2026-01-01T10:00Z'), end: new Date('2026-01-01T10:01Z') })).toEqual([]);
  });

  it('wants a window that ends after it starts, 93 x 24 hours at most', () => {
    const since = new Date('2026-01-01T00:00Z');
    expect(windowProblems(since, new Date(since.getTime() + 93 * 86_400_000))).toEqual([]);
    expect(windowProblems(since, new Date(since.getTime() + 93 * 86_400_000 + 1))).toEqual([{ field: 'querystring.until', message: 'must be at most 2232 hours after since' }]);
    expect(windowProblems(since, since).map((p) => p.field)).toEqual(['querystring.until']);
    expect(windowProblems(new Date('x'), since).map((p) => p.field)).toEqual(['querystring.since']);
  });
});

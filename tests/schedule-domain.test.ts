import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { finalSchedule, onCallAt, scheduleGaps, userShifts, ON_CALL_HORIZON_MS } from '../src/domain/schedule-final.ts';
import type { ScheduleOverride, ScheduleRules } from '../src/domain/schedule.ts';
import { baseDay, boundaries, layer, overrides, plain, users, usersAt, window, zones } from './helpers/schedule-arbitraries.ts';

// SPEC section 11: the final schedule's shape and how layers and overrides combine, as
// properties over random schedules in zones with and without daylight saving. How a single
// layer's turns fall is checked against an independent oracle in schedule-rotation.test.ts.

const at = (ms: number) => new Date(ms);

const scenario = fc.tuple(fc.constantFrom(...zones), baseDay).chain(([zone, base]) =>
  fc.tuple(fc.array(layer(base), { minLength: 1, maxLength: 3 }), window(base)).chain(([layers, w]) =>
    overrides(w.since, w.until).map((list) => ({
      schedule: { time_zone: zone, layers } as ScheduleRules,
      overrides: list,
      since: w.since,
      until: w.until,
      base,
    })),
  ),
);

/** The override that wins at an instant by SPEC 11's rule, found by brute force. */
function winningOverride(list: readonly ScheduleOverride[], instant: number): ScheduleOverride | undefined {
  return list
    .filter((o) => o.start.getTime() <= instant && instant < o.end.getTime())
    .sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || a.id.localeCompare(b.id))
    .at(-1);
}

describe('final schedule (property)', () => {
  it('is sorted, contiguous, covers exactly the window, has one user at most and merges equal neighbours', () => {
    fc.assert(
      fc.property(scenario, ({ schedule, overrides: list, since, until }) => {
        const entries = finalSchedule(schedule, list, at(since), at(until));
        expect(entries.length).toBeGreaterThan(0);
        expect(entries[0]!.start.getTime()).toBe(since);
        expect(entries.at(-1)!.end.getTime()).toBe(until);
        entries.forEach((entry, i) => {
          expect(entry.end.getTime()).toBeGreaterThan(entry.start.getTime());
          expect(entry.user_ids.length).toBeLessThanOrEqual(1);
          if (i > 0) {
            expect(entry.start.getTime()).toBe(entries[i - 1]!.end.getTime());
            expect(entry.user_ids).not.toEqual(entries[i - 1]!.user_ids);
          }
        });
      }),
      { numRuns: 300 },
    );
  });

  it('cut to a sub-window equals the sub-window rendered', () => {
    const withCut = scenario.chain((s) =>
      fc.tuple(fc.integer({ min: s.since, max: s.until }), fc.integer({ min: s.since, max: s.until }))
        .filter(([a, b]) => a !== b)
        .map(([a, b]) => ({ ...s, from: Math.min(a, b), to: Math.max(a, b) })),
    );
    fc.assert(
      fc.property(withCut, ({ schedule, overrides: list, since, until, from, to }) => {
        const cut = finalSchedule(schedule, list, at(since), at(until))
          .filter((e) => e.end.getTime() > from && e.start.getTime() < to)
          .map((e) => ({ start: at(Math.max(e.start.getTime(), from)), end: at(Math.min(e.end.getTime(), to)), user_ids: e.user_ids }));
        expect(plain(finalSchedule(schedule, list, at(from), at(to)))).toEqual(plain(cut));
      }),
      { numRuns: 300 },
    );
  });

  it('on call at an instant is the entry holding it, until the entry ends', () => {
    const withInstant = scenario.chain((s) => fc.integer({ min: s.since, max: s.until - 1 }).map((t) => ({ ...s, t })));
    fc.assert(
      fc.property(withInstant, ({ schedule, overrides: list, since, until, t }) => {
        const entries = finalSchedule(schedule, list, at(since), at(until));
        const holding = entries.find((e) => e.start.getTime() <= t && t < e.end.getTime())!;
        const answer = onCallAt(schedule, list, at(t));
        expect(answer.user_ids).toEqual(holding.user_ids);
        if (holding.end.getTime() < until) expect(answer.until).toEqual(holding.end);
        else if (answer.until !== null) {
          expect(answer.until.getTime()).toBeGreaterThanOrEqual(until);
          expect(answer.until.getTime()).toBeLessThan(t + ON_CALL_HORIZON_MS);
        }
      }),
      { numRuns: 150 },
    );
  });

  it("inside an override its user is on call (the last created wins); outside, nothing changes", () => {
    fc.assert(
      fc.property(scenario, ({ schedule, overrides: list, since, until }) => {
        const withOverrides = finalSchedule(schedule, list, at(since), at(until));
        const without = finalSchedule(schedule, [], at(since), at(until));
        // Between two neighbouring boundaries of either schedule or of any override nothing
        // changes, so each piece is checked at its start.
        const cuts = boundaries(withOverrides, without, list).filter((b) => b >= since && b < until);
        for (const piece of cuts) {
          const winner = winningOverride(list, piece);
          expect(usersAt(withOverrides, piece)).toEqual(winner ? [winner.user_id] : usersAt(without, piece));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('a layer added on top wins where it has someone and changes nothing elsewhere', () => {
    const withTop = scenario.chain((s) => layer(s.base).map((top) => ({ ...s, top })));
    fc.assert(
      fc.property(withTop, ({ schedule, since, until, top }) => {
        const below = finalSchedule(schedule, [], at(since), at(until));
        const alone = finalSchedule({ ...schedule, layers: [top] }, [], at(since), at(until));
        const stacked = finalSchedule({ ...schedule, layers: [...schedule.layers, top] }, [], at(since), at(until));
        for (const piece of boundaries(below, alone, stacked).filter((b) => b < until)) {
          const topUsers = usersAt(alone, piece)!;
          expect(usersAt(stacked, piece)).toEqual(topUsers.length > 0 ? topUsers : usersAt(below, piece));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('gaps are exactly the complement of the time someone is on call', () => {
    fc.assert(
      fc.property(scenario, ({ schedule, overrides: list, since, until }) => {
        const gaps = scheduleGaps(schedule, list, at(since), at(until));
        expect(gaps.every((g) => g.user_ids.length === 0)).toBe(true);
        const shifts = [...users, 'o1', 'o2'].flatMap((user) => userShifts(schedule, list, user, at(since), at(until)));
        // Gaps and everyone's shifts tile the window: no overlap, no hole.
        const pieces = [...gaps, ...shifts].sort((a, b) => a.start.getTime() - b.start.getTime());
        let cursor = since;
        for (const piece of pieces) {
          expect(piece.start.getTime()).toBe(cursor);
          expect(piece.end.getTime()).toBeGreaterThan(cursor);
          cursor = piece.end.getTime();
        }
        expect(cursor).toBe(until);
      }),
      { numRuns: 200 },
    );
  });

  it("gives a user's shifts as runs of the final schedule holding that user", () => {
    fc.assert(
      fc.property(scenario, fc.constantFrom(...users, 'o1'), ({ schedule, overrides: list, since, until }, user) => {
        const entries = finalSchedule(schedule, list, at(since), at(until));
        const expected = entries.filter((e) => e.user_ids.includes(user)).map((e) => ({ start: e.start, end: e.end }));
        expect(userShifts(schedule, list, user, at(since), at(until))).toEqual(expected);
      }),
      { numRuns: 100 },
    );
  });
});

describe('final schedule (edges)', () => {
  const schedule: ScheduleRules = {
    time_zone: 'Europe/Berlin',
    layers: [{ name: 'a', user_ids: ['u1'], start: '2026-01-05T09:00', turn: { count: 1, unit: 'week' } }],
  };

  it('is empty for an empty window, and refuses one that ends before it starts', () => {
    expect(finalSchedule(schedule, [], at(Date.UTC(2026, 1, 1)), at(Date.UTC(2026, 1, 1)))).toEqual([]);
    expect(() => finalSchedule(schedule, [], at(Date.UTC(2026, 1, 2)), at(Date.UTC(2026, 1, 1)))).toThrow();
  });

  it('answers until null when nobody changes within the horizon (one person, no restrictions)', () => {
    expect(onCallAt(schedule, [], at(Date.UTC(2026, 5, 1)))).toEqual({ user_ids: ['u1'], until: null });
  });
});

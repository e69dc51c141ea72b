import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { finalSchedule, userShifts } from '../src/domain/schedule-final.ts';
import type { Layer, ScheduleRules, Weekday } from '../src/domain/schedule.ts';
import { baseDay, boundaries, layer, plain, restriction, usersAt, window, zones } from './helpers/schedule-arbitraries.ts';
import { localString, oracleInstant, oracleReached, oracleWall, wallOf } from './helpers/zone-oracle.ts';

// SPEC section 11: how one layer's turns fall: `hour` turns in elapsed time, `day` and `week`
// turns at the same local time across daylight-saving changes, each handoff read by the rule
// for skipped and repeated local times, restrictions cutting the turns without moving them.
// The oracle below walks the turns one by one from the start, reading local times with Intl by
// brute force (tests/helpers/zone-oracle.ts): slow, obvious and independent of the code.
// Restriction windows open and close when the clock first reads their times (see
// restrictionWindows in src/domain/schedule-layer.ts for why not the handoffs' reading).

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MINUTE = 60_000;
const at = (ms: number) => new Date(ms);
const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));
const dayNames: Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** The layer's handoffs by walking from the start, up to the first one at or after `until`. */
function oracleHandoffs(zone: string, layer: Layer, until: number): number[] {
  const startWall = wallOf(layer.start);
  const first = oracleInstant(zone, startWall);
  const { count, unit } = layer.turn;
  const handoffs = [first];
  for (let k = 1; handoffs.at(-1)! < until; k++) {
    handoffs.push(unit === 'hour' ? first + k * count * HOUR : oracleInstant(zone, startWall + k * count * (unit === 'week' ? 7 : 1) * DAY));
  }
  return handoffs;
}

/** The restriction windows opening on the local days around `[since, until)`. */
function oracleWindows(zone: string, layer: Layer, since: number, until: number): [number, number][] {
  const windows: [number, number][] = [];
  const firstDay = Math.floor(oracleWall(zone, since) / DAY) - 2;
  const lastDay = Math.floor(oracleWall(zone, until) / DAY) + 1;
  for (let day = firstDay; day <= lastDay; day++) {
    const name = dayNames[new Date(day * DAY).getUTCDay()]!;
    for (const r of layer.restrictions ?? []) {
      if (!r.days.includes(name)) continue;
      const end = minutes(r.end) <= minutes(r.start) ? minutes(r.end) + 24 * 60 : minutes(r.end);
      windows.push([oracleReached(zone, day * DAY + minutes(r.start) * MINUTE), oracleReached(zone, day * DAY + end * MINUTE)]);
    }
  }
  return windows;
}

describe('a layer against the walking oracle (property)', () => {
  const scenario = fc.tuple(fc.constantFrom(...zones), baseDay).chain(([zone, base]) =>
    fc.record({ zone: fc.constant(zone), layer: layer(base), w: window(base, 8) }),
  );

  it('has the user of the turn holding each instant, inside the restrictions, nobody before its start', () => {
    fc.assert(
      fc.property(scenario, ({ zone, layer, w: { since, until } }) => {
        const entries = finalSchedule({ time_zone: zone, layers: [layer] }, [], at(since), at(until));
        const handoffs = oracleHandoffs(zone, layer, until);
        const windows = oracleWindows(zone, layer, since, until);
        const restricted = (layer.restrictions ?? []).length > 0;
        const expected = (instant: number): string[] => {
          if (instant < handoffs[0]!) return [];
          if (restricted && !windows.some(([s, e]) => s <= instant && instant < e)) return [];
          const k = handoffs.findLastIndex((h) => h <= instant);
          return [layer.user_ids[k % layer.user_ids.length]!];
        };
        // Every instant where either side may change, so each piece is checked once.
        const cuts = new Set([since, ...boundaries(entries), ...handoffs, ...windows.flat()]);
        for (const piece of [...cuts].filter((c) => c >= since && c < until)) expect(usersAt(entries, piece)).toEqual(expected(piece));
      }),
      { numRuns: 120 },
    );
  });
});

describe('turns (property)', () => {
  it('with hour turns and no restrictions, N users with turn T over k·N·T each get exactly k·T', () => {
    const scenario = fc.record({
      zone: fc.constantFrom(...zones),
      n: fc.integer({ min: 1, max: 4 }),
      count: fc.integer({ min: 1, max: 30 }),
      k: fc.integer({ min: 1, max: 3 }),
      since: fc.integer({ min: Date.UTC(2026, 0, 3), max: Date.UTC(2026, 11, 1) }),
    });
    fc.assert(
      fc.property(scenario, ({ zone, n, count, k, since }) => {
        const people = ['a', 'b', 'c', 'd'].slice(0, n);
        const schedule: ScheduleRules = { time_zone: zone, layers: [{ name: 'l', user_ids: people, start: '2026-01-01T00:00', turn: { count, unit: 'hour' } }] };
        const until = since + k * n * count * HOUR;
        for (const person of people) {
          const total = userShifts(schedule, [], person, at(since), at(until)).reduce((sum, s) => sum + (s.end.getTime() - s.start.getTime()), 0);
          expect(total).toBe(k * count * HOUR);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('moving the start by N turns (users rotated to match) changes nothing after both starts', () => {
    const scenario = fc.tuple(fc.constantFrom(...zones), baseDay).chain(([zone, base]) =>
      fc.record({ zone: fc.constant(zone), layer: layer(base), n: fc.integer({ min: 0, max: 20_000 }), w: window(base, 6) }),
    );
    fc.assert(
      fc.property(scenario, ({ zone, layer, n, w }) => {
        const { count, unit } = layer.turn;
        const turnHours = count * (unit === 'hour' ? 1 : unit === 'day' ? 24 : 168);
        const turns = Math.min(n, Math.floor((35 * 365 * 24) / turnHours)); // stay after 1970
        let start: string;
        if (unit === 'hour') {
          // Elapsed time: the earlier start is the instant N turns before, written on the local
          // clock (unless that reading is ambiguous or skipped: then it cannot be written).
          const earlier = oracleInstant(zone, wallOf(layer.start)) - turns * count * HOUR;
          start = localString(oracleWall(zone, earlier));
          fc.pre(oracleInstant(zone, wallOf(start)) === earlier);
        } else {
          start = localString(wallOf(layer.start) - turns * turnHours * HOUR);
        }
        const size = layer.user_ids.length;
        const moved = { ...layer, start, user_ids: layer.user_ids.map((_, j) => layer.user_ids[(((j - turns) % size) + size) % size]!) };
        const since = Math.max(w.since, wallOf(layer.start) + DAY); // after the later start, in any zone
        const until = Math.max(w.until, since + HOUR);
        const original = finalSchedule({ time_zone: zone, layers: [layer] }, [], at(since), at(until));
        expect(plain(finalSchedule({ time_zone: zone, layers: [moved] }, [], at(since), at(until)))).toEqual(plain(original));
      }),
      { numRuns: 200 },
    );
  });

  it('a restriction running past midnight equals its two halves split at midnight', () => {
    const scenario = fc.tuple(fc.constantFrom(...zones), baseDay).chain(([zone, base]) =>
      fc.record({
        zone: fc.constant(zone),
        layer: layer(base, { restrictions: false }),
        days: restriction.map((r) => r.days),
        start: fc.integer({ min: 1, max: 1439 }),
        end: fc.integer({ min: 1, max: 1439 }),
        w: window(base, 10),
      }),
    );
    const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
    const next: Record<Weekday, Weekday> = { mon: 'tue', tue: 'wed', wed: 'thu', thu: 'fri', fri: 'sat', sat: 'sun', sun: 'mon' };
    fc.assert(
      fc.property(scenario, ({ zone, layer, days, start, end, w }) => {
        fc.pre(end <= start); // runs past midnight (end = start: a whole day)
        const whole = { ...layer, restrictions: [{ days, start: hhmm(start), end: hhmm(end) }] };
        const halves = {
          ...layer,
          restrictions: [
            { days, start: hhmm(start), end: '00:00' },
            { days: days.map((d) => next[d]), start: '00:00', end: hhmm(end) },
          ],
        };
        const render = (l: Layer) => plain(finalSchedule({ time_zone: zone, layers: [l] }, [], at(w.since), at(w.until)));
        expect(render(halves)).toEqual(render(whole));
      }),
      { numRuns: 200 },
    );
  });

  it('day and week handoffs keep their local time across changes, with no gap and no overlap', () => {
    const scenario = fc.tuple(fc.constantFrom('Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Pacific/Chatham', 'America/Santiago'), baseDay)
      .chain(([zone, base]) => fc.record({ zone: fc.constant(zone), layer: layer(base, { restrictions: false }), w: window(base, 20) }));
    fc.assert(
      fc.property(scenario, ({ zone, layer, w }) => {
        fc.pre(layer.turn.unit !== 'hour');
        const distinct = { ...layer, user_ids: ['a', 'b'] };
        const entries = finalSchedule({ time_zone: zone, layers: [distinct] }, [], at(w.since), at(w.until));
        const time = layer.start.slice(11);
        for (const entry of entries.slice(1)) {
          // Each handoff reads the configured time, or the clocks skipped it and it is that time
          // on the clock before the change (so it reads later on the new clock).
          const handoff = entry.start.getTime();
          const reads = localString(oracleWall(zone, handoff));
          if (reads.slice(11) !== time) expect(oracleInstant(zone, wallOf(`${reads.slice(0, 10)}T${time}`))).toBe(handoff);
          expect(entry.user_ids).toHaveLength(1);
        }
      }),
      { numRuns: 200 },
    );
  });
});

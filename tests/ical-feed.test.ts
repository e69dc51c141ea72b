import ICAL from 'ical.js';
import { describe, expect, it } from 'vitest';
import { entryUid, icalFeed } from '../src/adapters/http/ical-feed.ts';
import { finalSchedule, userShifts } from '../src/domain/schedule-final.ts';
import type { ScheduleOverride, ScheduleRules } from '../src/domain/schedule.ts';

// SPEC section 11: the iCalendar feed, read back with ical.js (a maintained RFC 5545 parser),
// gives the same shifts as the final schedule it was written from.

const schedule: ScheduleRules = {
  time_zone: 'Europe/Berlin',
  layers: [
    { name: 'primary', user_ids: ['u-ann', 'u-bob'], start: '2026-03-23T09:00', turn: { count: 1, unit: 'day' } },
    { name: 'nights', user_ids: ['u-cy'], start: '2026-03-23T09:00', turn: { count: 1, unit: 'week' }, restrictions: [{ days: ['sat'], start: '22:00', end: '06:00' }] },
  ],
};
const overrides: ScheduleOverride[] = [
  { id: 'o1', user_id: 'u-dee', start: new Date('2026-03-30T12:00Z'), end: new Date('2026-03-30T18:00Z'), created_at: new Date('2026-03-01T00:00Z') },
];
// A layer that starts inside the window, so the feed's entries include a gap to leave out.
const since = new Date('2026-03-22T00:00Z');
const until = new Date('2026-04-02T00:00Z');
const names = new Map([
  ['u-ann', 'Ann Lee'],
  ['u-bob', 'Bob; "the builder", Jr.\nSecond line'],
  ['u-cy', 'Cyrille Éloïse Ødegård'],
]);

function events(text: string) {
  const calendar = new ICAL.Component(ICAL.parse(text));
  return calendar.getAllSubcomponents('vevent').map((component) => {
    const event = new ICAL.Event(component);
    return { uid: event.uid, summary: event.summary, start: event.startDate.toJSDate(), end: event.endDate.toJSDate() };
  });
}

const feed = (generatedAt: Date, entries = finalSchedule(schedule, overrides, since, until)) =>
  icalFeed({ scheduleId: 'sched-1', scheduleName: 'Payments', calendarName: 'Payments on call', entries, userNames: names, generatedAt });

describe('iCalendar feed', () => {
  it('parses back to the non-empty entries of the final schedule, names in the summary', () => {
    const entries = finalSchedule(schedule, overrides, since, until);
    expect(entries.some((e) => e.user_ids.length === 0)).toBe(true);
    const parsed = events(feed(new Date('2026-03-25T10:00Z')));
    const expected = entries
      .filter((e) => e.user_ids.length > 0)
      .map((e) => ({ uid: entryUid('sched-1', e), summary: `${names.get(e.user_ids[0]!) ?? e.user_ids[0]} on call (Payments)`, start: e.start, end: e.end }));
    expect(parsed).toEqual(expected);
    expect(parsed.length).toBeGreaterThan(8);
    // A user without a name is named by id.
    expect(parsed.some((e) => e.summary === 'u-dee on call (Payments)')).toBe(true);
  });

  it('writes RFC 5545: CRLF lines of at most 75 octets, UTC times, a calendar that says it publishes', () => {
    const text = feed(new Date('2026-03-25T10:00Z'));
    expect(text.startsWith('BEGIN:VCALENDAR\r\nVERSION:2.0\r\n')).toBe(true);
    expect(text.endsWith('\r\nEND:VCALENDAR\r\n')).toBe(true);
    const lines = text.split('\r\n');
    expect(lines).toContain('PRODID:-//Tocsin//On-call schedules//EN');
    expect(lines.every((line) => Buffer.byteLength(line) <= 75)).toBe(true);
    expect(text).not.toMatch(/[^\r]\n/);
    expect(lines).toContain('METHOD:PUBLISH');
    expect(lines).toContain('DTSTART:20260323T080000Z'); // Monday 09:00 CET, the layer's start
    expect(lines).toContain('DTEND:20260330T070000Z'); // Monday 09:00 CEST, after the change
    for (const line of lines.filter((l) => l.startsWith('DTSTART') || l.startsWith('DTEND') || l.startsWith('DTSTAMP'))) {
      expect(line).toMatch(/^DT(START|END|STAMP):\d{8}T\d{6}Z$/);
    }
  });

  it('keeps the same UIDs across refreshes, and for an entry whose end moved', () => {
    const first = events(feed(new Date('2026-03-25T10:00Z')));
    const later = events(feed(new Date('2026-03-25T11:00Z')));
    expect(later.map((e) => e.uid)).toEqual(first.map((e) => e.uid));
    expect(new Set(first.map((e) => e.uid)).size).toBe(first.length);
    // An override cut into Ann's turn: her entry keeps its UID, the new ones get their own.
    const cut: ScheduleOverride = { id: 'o2', user_id: 'u-cy', start: new Date('2026-03-24T20:00Z'), end: new Date('2026-03-24T22:00Z'), created_at: new Date('2026-03-02T00:00Z') };
    const withCut = events(feed(new Date('2026-03-25T12:00Z'), finalSchedule(schedule, [...overrides, cut], since, until)));
    const before = first.find((e) => e.start.getTime() <= cut.start.getTime() && cut.start.getTime() < e.end.getTime())!;
    const after = withCut.find((e) => e.uid === before.uid)!;
    expect(after.start).toEqual(before.start);
    expect(after.end).toEqual(cut.start);
    expect(withCut.length).toBe(first.length + 2);
  });

  it("gives one user's shifts as their own feed", () => {
    const shifts = userShifts(schedule, overrides, 'u-ann', since, until).map((s) => ({ ...s, user_ids: ['u-ann'] }));
    const parsed = events(icalFeed({ scheduleId: 'sched-1', scheduleName: 'Payments', calendarName: 'Ann: Payments', entries: shifts, userNames: names, generatedAt: new Date() }));
    expect(parsed.map((e) => [e.start, e.end])).toEqual(shifts.map((s) => [s.start, s.end]));
    expect(parsed.every((e) => e.summary === 'Ann Lee on call (Payments)')).toBe(true);
    // Without the user in the UID, a calendar subscribed to both feeds took a shift and the same
    // run of the whole schedule for one event.
    const mine = events(icalFeed({ scheduleId: 'sched-1', scheduleName: 'Payments', calendarName: 'Ann: Payments', entries: shifts, userNames: names, generatedAt: new Date(), userId: 'u-ann' }));
    const whole = events(feed(new Date()));
    const same = whole.find((e) => e.start.getTime() === mine[0]!.start.getTime() && e.end.getTime() === mine[0]!.end.getTime())!;
    expect(same.summary).toBe(mine[0]!.summary);
    expect(same.uid).not.toBe(mine[0]!.uid);
    expect(mine.map((e) => e.uid)).toEqual(shifts.map((s) => entryUid('sched-1', s, 'u-ann')));
  });

  it('is an empty calendar when nobody is on call', () => {
    const text = icalFeed({ scheduleId: 's', scheduleName: 'S', calendarName: 'S', entries: [{ start: since, end: until, user_ids: [] }], userNames: new Map(), generatedAt: since });
    expect(events(text)).toEqual([]);
    expect(text).toContain('BEGIN:VCALENDAR');
  });
});

import { createHash } from 'node:crypto';
import ical, { ICalCalendarMethod, ICalEventTransparency } from 'ical-generator';
import type { FinalEntry } from '../../domain/schedule.ts';

// SPEC section 11: iCalendar feeds (RFC 5545) of a schedule's final schedule, or of one user's
// shifts, that a calendar application subscribes to: one VEVENT per non-empty entry, its SUMMARY
// naming who is on call, DTSTART/DTEND in UTC, and UIDs that stay the same across refreshes so
// the application updates an event instead of adding a copy. ical-generator writes the text
// (escaping, line folding, CRLF); the route picks the window (7 days back to 90 ahead) and the
// entries (`finalSchedule`, or `userShifts` turned into entries holding that user).

export interface IcalFeedInput {
  scheduleId: string;
  scheduleName: string;
  /** The calendar's name as the application shows it (the schedule's, or "Alice: ops"). */
  calendarName: string;
  /** Final-schedule entries; gaps (no users) are left out. */
  entries: readonly FinalEntry[];
  /**
   * Set for a feed of one user's shifts. Its UIDs then differ from the whole schedule's for the
   * same run: a calendar subscribed to both would otherwise take them for one event.
   */
  userId?: string | null;
  /** Display names by user id; a user without one is named by id. */
  userNames: ReadonlyMap<string, string>;
  /** DTSTAMP of every event: when the feed was produced. */
  generatedAt: Date;
  /** How often the application should fetch again (REFRESH-INTERVAL, X-PUBLISHED-TTL). */
  refreshSeconds?: number;
}

/**
 * The UID of an entry: a hash of the schedule (and, in a user's feed, the user), the entry's
 * start and its users. The same run of
 * the same people keeps its UID when its end moves (an override added later shortens it) and
 * across refreshes; a different run gets another. (The first entry of a feed starts where the
 * window does, so its UID changes as the window moves: a week in the past, where no one looks.)
 */
export function entryUid(scheduleId: string, entry: Pick<FinalEntry, 'start' | 'user_ids'>, userId?: string | null): string {
  const scope = userId ? `${scheduleId}/${userId}` : scheduleId;
  const digest = createHash('sha256').update(`${scope}\n${entry.start.toISOString()}\n${entry.user_ids.join(',')}`).digest('hex');
  return `${digest.slice(0, 32)}@tocsin`;
}

/** The feed as an RFC 5545 text (CRLF line ends), ready to send as `text/calendar; charset=utf-8`. */
export function icalFeed(input: IcalFeedInput): string {
  const calendar = ical({
    prodId: { company: 'Tocsin', product: 'On-call schedules' }, // PRODID:-//Tocsin//On-call schedules//EN
    method: ICalCalendarMethod.PUBLISH,
    name: input.calendarName,
    ttl: input.refreshSeconds ?? 3600,
  });
  for (const entry of input.entries) {
    if (entry.user_ids.length === 0) continue;
    const names = entry.user_ids.map((id) => input.userNames.get(id) ?? id).join(', ');
    calendar.createEvent({
      id: entryUid(input.scheduleId, entry, input.userId),
      start: entry.start,
      end: entry.end,
      stamp: input.generatedAt,
      summary: `${names} on call (${input.scheduleName})`,
      // Being on call is not a meeting: the time shows as free.
      transparency: ICalEventTransparency.TRANSPARENT,
    });
  }
  // RFC 5545 ends every content line with CRLF, the last one too; ical-generator leaves it off.
  return `${calendar.toString()}\r\n`;
}

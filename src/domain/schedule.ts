import { DomainError } from './errors.ts';
import { clockMinutes, timeZoneProblem } from './quiet-hours.ts';
import { DAY, HOUR } from './schedule-zone.ts';

// SPEC section 11: on-call schedules. This file holds their shapes and what makes one valid; the
// computation is in schedule-layer.ts (one layer's turns) and schedule-final.ts (layers and
// overrides merged into the final schedule). See the glossary for the words.

export const weekdays = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof weekdays)[number];
export const turnUnits = ['hour', 'day', 'week'] as const;
export type TurnUnit = (typeof turnUnits)[number];

/** A window of local time on some days of the week; an `end` at or before `start` runs past midnight. */
export interface Restriction {
  days: Weekday[];
  start: string;
  end: string;
}

export interface Layer {
  name: string;
  /** Take turns in this order; a user may appear more than once. */
  user_ids: string[];
  /** Local date-time (`2026-01-05T09:00`) in the schedule's zone: the first handoff. */
  start: string;
  turn: { count: number; unit: TurnUnit };
  /** Absent or empty: the layer is not restricted. */
  restrictions?: Restriction[];
}

/** What the computation needs of a schedule; the stored one adds its id, name and team. */
export interface ScheduleRules {
  time_zone: string;
  /** Later layers win over earlier ones wherever they have someone on call. */
  layers: Layer[];
}

export interface ScheduleOverride {
  id: string;
  user_id: string;
  start: Date;
  end: Date;
  /** The override created last wins where overrides overlap. */
  created_at: Date;
}

/** A stored schedule (SPEC 11): its rules, and what names, owns and versions it. */
export interface Schedule extends ScheduleRules {
  id: string;
  name: string;
  team_id: string | null;
  /** Bumped by every change to name, zone, team or layers: the ETag (SPEC 2). */
  version: number;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

/** A stored override: what the computation needs, plus its schedule and who placed it. */
export interface StoredOverride extends ScheduleOverride {
  schedule_id: string;
  created_by: string;
}

/** One run of the final schedule: `user_ids` is empty in a gap, else the one user on call. */
export interface FinalEntry {
  start: Date;
  end: Date;
  user_ids: string[];
}

export interface Problem {
  field: string;
  message: string;
}

// Bounds chosen so a schedule stays readable and a 93-day final schedule stays cheap (the cost
// grows with layers x restrictions x days of the window). PagerDuty's and GoAlert's users
// rarely have more than a handful of layers.
export const scheduleLimits = {
  layers: 20,
  usersPerLayer: 100,
  restrictionsPerLayer: 50,
  nameLength: 200,
  /** A turn lasts at most a year (8760 hours, 365 days or 52 weeks). */
  maxTurnCount: { hour: 8760, day: 365, week: 52 } satisfies Record<TurnUnit, number>,
  /** Layer starts between these years: outside them a start is a typo, not a rotation. */
  firstYear: 1970,
  lastYear: 2999,
} as const;

/** The longest window `final`, `gaps` and shifts are computed for (SPEC 11: 93 x 24 hours). */
export const MAX_WINDOW_MS = 93 * DAY;

const localDateTimePattern = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/;

/** A `YYYY-MM-DDTHH:mm` local date-time as a wall time (ms on a UTC calendar), or undefined. */
export function parseLocalDateTime(value: string): number | undefined {
  const match = localDateTimePattern.exec(value);
  if (!match) return undefined;
  const [year, month, day, hour, minute] = match.slice(1).map(Number) as [number, number, number, number, number];
  if (hour > 23 || minute > 59) return undefined;
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  const back = new Date(wall);
  // Date.UTC rolls 2026-02-30 over into March; a real date survives the round trip.
  if (back.getUTCFullYear() !== year || back.getUTCMonth() !== month - 1 || back.getUTCDate() !== day) return undefined;
  return wall;
}

function layerProblems(layer: Layer, at: string): Problem[] {
  // The request schema gives objects; this only keeps a caller that skipped it from a TypeError.
  if (typeof layer !== 'object' || layer === null) return [{ field: at, message: 'must be an object' }];
  const problems: Problem[] = [];
  const add = (field: string, message: string) => problems.push({ field: `${at}.${field}`, message });

  if (typeof layer.name !== 'string' || layer.name.trim() === '') add('name', 'must not be empty');
  else if (layer.name.length > scheduleLimits.nameLength) add('name', `must be at most ${scheduleLimits.nameLength} characters`);

  if (!Array.isArray(layer.user_ids) || layer.user_ids.length === 0) add('user_ids', 'must name at least one user');
  else if (layer.user_ids.length > scheduleLimits.usersPerLayer) add('user_ids', `must name at most ${scheduleLimits.usersPerLayer} users`);
  else layer.user_ids.forEach((id, i) => typeof id !== 'string' || id === '' ? add(`user_ids.${i}`, 'must be a user id') : undefined);

  const start = typeof layer.start === 'string' ? parseLocalDateTime(layer.start) : undefined;
  if (start === undefined) add('start', 'must be a local date-time as YYYY-MM-DDTHH:mm, such as 2026-01-05T09:00');
  else {
    const year = new Date(start).getUTCFullYear();
    if (year < scheduleLimits.firstYear || year > scheduleLimits.lastYear) {
      add('start', `must be between the years ${scheduleLimits.firstYear} and ${scheduleLimits.lastYear}`);
    }
  }

  const unit = layer.turn?.unit;
  const count = layer.turn?.count;
  if (!turnUnits.includes(unit)) add('turn.unit', `must be one of ${turnUnits.join(', ')}`);
  else if (!Number.isInteger(count) || count < 1 || count > scheduleLimits.maxTurnCount[unit]) {
    add('turn.count', `must be a whole number from 1 to ${scheduleLimits.maxTurnCount[unit]} for ${unit} turns (a turn lasts at most a year)`);
  }

  const restrictions = layer.restrictions ?? [];
  if (!Array.isArray(restrictions)) add('restrictions', 'must be a list');
  else if (restrictions.length > scheduleLimits.restrictionsPerLayer) add('restrictions', `must hold at most ${scheduleLimits.restrictionsPerLayer} windows`);
  else restrictions.forEach((r, i) => problems.push(...restrictionProblems(r, `${at}.restrictions.${i}`)));
  return problems;
}

function restrictionProblems(restriction: Restriction, at: string): Problem[] {
  if (typeof restriction !== 'object' || restriction === null) return [{ field: at, message: 'must be an object' }];
  const problems: Problem[] = [];
  const days = restriction.days;
  if (!Array.isArray(days) || days.length === 0) problems.push({ field: `${at}.days`, message: 'must name at least one day' });
  else {
    const seen = new Set<string>();
    days.forEach((day, i) => {
      if (!weekdays.includes(day)) problems.push({ field: `${at}.days.${i}`, message: `must be one of ${weekdays.join(', ')}` });
      else if (seen.has(day)) problems.push({ field: `${at}.days.${i}`, message: 'names the same day twice' });
      seen.add(day);
    });
  }
  // start = end is allowed: a window of a whole day from that time (SPEC 11: an `end` at or
  // before `start` runs past midnight).
  for (const key of ['start', 'end'] as const) {
    if (typeof restriction[key] !== 'string' || clockMinutes(restriction[key]) === undefined) {
      problems.push({ field: `${at}.${key}`, message: 'must be a time of day as HH:MM (00:00 to 23:59)' });
    }
  }
  return problems;
}

/**
 * What the request schema cannot say about a schedule, each problem with its field path under
 * `body` (dotted, as the HTTP adapter names schema errors: `body.layers.0.start`). References to
 * users are checked by the use case, which knows which users exist.
 */
export function scheduleProblems(input: { name?: string; time_zone: string; layers: Layer[] }): Problem[] {
  const problems: Problem[] = [];
  if (input.name !== undefined && (typeof input.name !== 'string' || input.name.trim() === '')) {
    problems.push({ field: 'body.name', message: 'must not be empty' });
  } else if (input.name !== undefined && input.name.length > scheduleLimits.nameLength) {
    problems.push({ field: 'body.name', message: `must be at most ${scheduleLimits.nameLength} characters` });
  }
  const zoneProblem = typeof input.time_zone === 'string' ? timeZoneProblem(input.time_zone) : 'must be an IANA time zone name';
  if (zoneProblem) problems.push({ field: 'body.time_zone', message: zoneProblem });
  // A schedule without layers would page nobody, silently (as PagerDuty, require one).
  if (!Array.isArray(input.layers) || input.layers.length === 0) problems.push({ field: 'body.layers', message: 'must hold at least one layer' });
  else if (input.layers.length > scheduleLimits.layers) problems.push({ field: 'body.layers', message: `must hold at most ${scheduleLimits.layers} layers` });
  else input.layers.forEach((layer, i) => problems.push(...layerProblems(layer, `body.layers.${i}`)));
  return problems;
}

/** An override's problems (SPEC 11: `{"user_id","start","end"}`, instants, start before end). */
export function overrideProblems(input: { start: Date; end: Date }): Problem[] {
  const problems: Problem[] = [];
  const start = input.start.getTime();
  const end = input.end.getTime();
  if (Number.isNaN(start)) problems.push({ field: 'body.start', message: 'must be an ISO-8601 instant' });
  if (Number.isNaN(end)) problems.push({ field: 'body.end', message: 'must be an ISO-8601 instant' });
  else if (!Number.isNaN(start) && end <= start) problems.push({ field: 'body.end', message: 'must be after start' });
  return problems;
}

/** A `since`/`until` window's problems (SPEC 11: `until - since` at most 93 x 24 hours). */
export function windowProblems(since: Date, until: Date, maxMs: number = MAX_WINDOW_MS): Problem[] {
  if (Number.isNaN(since.getTime())) return [{ field: 'querystring.since', message: 'must be an ISO-8601 instant' }];
  if (Number.isNaN(until.getTime())) return [{ field: 'querystring.until', message: 'must be an ISO-8601 instant' }];
  if (until.getTime() <= since.getTime()) return [{ field: 'querystring.until', message: 'must be after since' }];
  if (until.getTime() - since.getTime() > maxMs) {
    return [{ field: 'querystring.until', message: `must be at most ${maxMs / HOUR} hours after since` }];
  }
  return [];
}

/** Throws VALIDATION_ERROR naming each bad field, as the use cases do (SPEC 2). */
export function throwIfProblems(problems: Problem[]): void {
  if (problems.length > 0) {
    throw new DomainError('VALIDATION_ERROR', `invalid request: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, problems);
  }
}

/** The schedule's rules, or VALIDATION_ERROR naming each bad field. */
export function validateSchedule<T extends { name?: string; time_zone: string; layers: Layer[] }>(input: T): T {
  throwIfProblems(scheduleProblems(input));
  return input;
}

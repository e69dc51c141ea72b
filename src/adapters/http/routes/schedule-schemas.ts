import Type from 'typebox';
import { scheduleLimits, turnUnits, weekdays, type FinalEntry, type Schedule, type StoredOverride } from '../../../domain/schedule.ts';
import type { IcalFeed } from '../../postgres/ical-feed-store.ts';
import { Nullable, PageQuery, Timestamp, Uuid } from '../schemas.ts';

// SPEC section 11: the request and response schemas of the schedule routes (and so of the
// OpenAPI document), with the presenters that turn stored things into response bodies.

const ClockTime = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: "HH:MM, 24-hour, in the schedule's time zone" });
const Name = Type.String({ minLength: 1, maxLength: scheduleLimits.nameLength, pattern: '\\S' });

const Restriction = Type.Object(
  {
    days: Type.Array(Type.Enum([...weekdays]), { minItems: 1, maxItems: 7 }),
    start: ClockTime,
    end: { ...ClockTime, description: 'an end at or before the start runs past midnight and belongs to its start day' },
  },
  { additionalProperties: false, description: 'a window of local time on these days; outside every window the layer has nobody, and turns advance all the same' },
);

const Turn = Type.Object(
  {
    count: Type.Integer({ minimum: 1, maximum: scheduleLimits.maxTurnCount.hour, description: 'at most a year: 8760 hours, 365 days or 52 weeks' }),
    unit: Type.Enum([...turnUnits], { description: 'hour: elapsed time; day and week: calendar time in the zone (the handoff keeps its local time across daylight saving)' }),
  },
  { additionalProperties: false },
);

const LayerInput = Type.Object(
  {
    name: Name,
    user_ids: Type.Array(Uuid, { minItems: 1, maxItems: scheduleLimits.usersPerLayer, description: 'take turns in this order; a user may appear twice' }),
    start: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}$', description: "the first handoff, a local date-time in the schedule's zone: 2026-01-05T09:00" }),
    turn: Turn,
    restrictions: Type.Optional(Type.Array(Restriction, { maxItems: scheduleLimits.restrictionsPerLayer })),
  },
  { additionalProperties: false },
);

export const ScheduleInput = Type.Object(
  {
    name: Name,
    time_zone: Type.String({ minLength: 1, maxLength: 64, description: 'an IANA zone such as Europe/Berlin' }),
    team_id: Type.Optional(Nullable(Uuid)),
    layers: Type.Array(LayerInput, { minItems: 1, maxItems: scheduleLimits.layers, description: 'later layers win over earlier ones wherever they have someone on call' }),
  },
  { additionalProperties: false },
);

export const ScheduleBody = Type.Object({
  id: Uuid,
  name: Type.String(),
  time_zone: Type.String(),
  team_id: Nullable(Uuid),
  layers: Type.Array(Type.Object({
    name: Type.String(),
    user_ids: Type.Array(Uuid),
    start: Type.String(),
    turn: Type.Object({ count: Type.Integer(), unit: Type.Enum([...turnUnits]) }),
    restrictions: Type.Array(Type.Object({ days: Type.Array(Type.Enum([...weekdays])), start: Type.String(), end: Type.String() })),
  })),
  created_by: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const ScheduleListQuery = Type.Object({ team_id: Type.Optional(Uuid), ...PageQuery }, { additionalProperties: false });

export const OverrideInput = Type.Object(
  { user_id: Uuid, start: { ...Timestamp, description: 'an instant' }, end: { ...Timestamp, description: 'an instant after start' } },
  { additionalProperties: false },
);

export const OverrideBody = Type.Object({
  id: Uuid,
  schedule_id: Uuid,
  user_id: Uuid,
  start: Timestamp,
  end: Timestamp,
  created_by: Type.String(),
  created_at: { ...Timestamp, description: 'where overrides overlap, the one created last wins' },
});

export const OverrideListQuery = Type.Object(
  {
    since: Type.Optional({ ...Timestamp, description: 'only overrides ending after this' }),
    until: Type.Optional({ ...Timestamp, description: 'only overrides starting before this' }),
    ...PageQuery,
  },
  { additionalProperties: false },
);

export const WindowQuery = Type.Object(
  {
    since: Type.Optional({ ...Timestamp, description: 'default: now' }),
    until: Type.Optional({ ...Timestamp, description: 'default: 7 days after since; at most 93 x 24 hours after since' }),
  },
  { additionalProperties: false },
);

export const AtQuery = Type.Object({ at: Type.Optional({ ...Timestamp, description: 'default: now' }) }, { additionalProperties: false });

const Entry = Type.Object({ start: Timestamp, end: Timestamp, user_ids: Type.Array(Uuid, { description: 'empty in a gap' }) });

export const EntriesBody = Type.Object({
  since: Timestamp,
  until: Timestamp,
  entries: Type.Array(Entry, { description: 'sorted and contiguous' }),
});

export const OnCallBody = Type.Object({
  at: Timestamp,
  user_ids: Type.Array(Uuid, { description: 'empty when nobody is on call' }),
  until: Nullable({ ...Timestamp, description: 'when user_ids next changes; null if no change is scheduled within 93 days' }),
});

export const ShiftsBody = Type.Object({
  since: Timestamp,
  until: Timestamp,
  data: Type.Array(Type.Object({ schedule_id: Uuid, start: Timestamp, end: Timestamp })),
});

export const FeedInput = Type.Object(
  { user_id: Type.Optional(Nullable({ ...Uuid, description: "a feed of this user's shifts only; absent: the whole final schedule" })) },
  { additionalProperties: false },
);

export const FeedBody = Type.Object({ id: Uuid, schedule_id: Uuid, user_id: Nullable(Uuid), created_by: Type.String(), created_at: Timestamp });

export const CreatedFeedBody = Type.Object({
  ...FeedBody.properties,
  url: Type.String({ description: 'subscribe a calendar to this URL; it needs no key, and is shown only in this response' }),
});

export const OverrideParams = Type.Object({ id: Uuid, override_id: Uuid });
export const FeedParams = Type.Object({ id: Uuid, feed_id: Uuid });
export const TokenParams = Type.Object({ token: Type.String({ minLength: 1, maxLength: 200, description: "the feed's secret" }) });
export const IfMatchHeaders = Type.Object({ 'if-match': Type.Optional(Type.String({ description: 'an ETag from a previous GET; 412 if the schedule changed since' })) });

export const presentSchedule = (s: Schedule) => ({
  id: s.id,
  name: s.name,
  time_zone: s.time_zone,
  team_id: s.team_id,
  layers: s.layers.map((l) => ({ name: l.name, user_ids: l.user_ids, start: l.start, turn: l.turn, restrictions: l.restrictions ?? [] })),
  created_by: s.created_by,
  created_at: s.created_at.toISOString(),
  updated_at: s.updated_at.toISOString(),
});

export const presentOverride = (o: StoredOverride) => ({
  id: o.id,
  schedule_id: o.schedule_id,
  user_id: o.user_id,
  start: o.start.toISOString(),
  end: o.end.toISOString(),
  created_by: o.created_by,
  created_at: o.created_at.toISOString(),
});

export const presentEntry = (e: FinalEntry) => ({ start: e.start.toISOString(), end: e.end.toISOString(), user_ids: e.user_ids });

export const presentFeed = (f: IcalFeed) => ({ id: f.id, schedule_id: f.schedule_id, user_id: f.user_id, created_by: f.created_by, created_at: f.created_at.toISOString() });

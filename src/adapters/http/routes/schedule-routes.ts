import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ScheduleUseCases } from '../../../app/schedule-use-cases.ts';
import { actorOf } from '../../../domain/api-key.ts';
import { DomainError, notFound } from '../../../domain/errors.ts';
import type { Tx } from '../../../ports/transact.ts';
import { listIcalFeeds } from '../../postgres/ical-feed-store.ts';
import { listOverrides } from '../../postgres/schedule-override-store.ts';
import { getSchedule, listSchedules } from '../../postgres/schedule-store.ts';
import type { Authenticator } from '../auth.ts';
import { etagOf, expectedVersion, isNotModified } from '../etag.ts';
import { icalFeed } from '../ical-feed.ts';
import type { Idempotency } from '../idempotency.ts';
import { intakeRateLimit } from '../rate-limit.ts';
import { errors, IdempotencyHeaders, IdParams, Page, PageOnlyQuery } from '../schemas.ts';
import {
  AtQuery, CreatedFeedBody, EntriesBody, FeedBody, FeedInput, FeedParams, IfMatchHeaders, OnCallBody, OverrideBody, OverrideInput,
  OverrideListQuery, OverrideParams, ScheduleBody, ScheduleInput, ScheduleListQuery, ShiftsBody, TokenParams, WindowQuery,
  presentEntry, presentFeed, presentOverride, presentSchedule,
} from './schedule-schemas.ts';

// SPEC section 11: on-call schedules over HTTP. Reads of stored things call the stores with a
// reader (no transaction); everything decided (writes, and every computation) goes through the
// use cases. Scopes: reads `read`; writes `write`; deleting a schedule `admin` (it takes its
// overrides and feeds with it, and escalation levels that name it would find nobody), as
// deleting an incident or a heartbeat is.

export interface ScheduleRouteDeps {
  schedules: ScheduleUseCases;
  /** For reads outside a transaction (`readerOf(db)`). */
  reader: Tx;
  auth: Authenticator;
  idempotent: Idempotency;
  /** SPEC 1: where people reach Tocsin; feed URLs are made under it. */
  publicUrl: string;
  /** INTAKE_RATE_LIMIT_PER_MINUTE: a feed URL carries its key, as an intake URL does. */
  intakePerMinute: number;
}

export const feedPath = (token: string) => `/v1/ical-feeds/${token}.ics`;
/** A query instant as a Date; one the format lets through but a Date cannot hold (a leap second) is an Invalid Date, which the use cases refuse naming the field. */
const instant = (value: string | undefined) => (value === undefined ? undefined : new Date(value));

/** The same, refused here, for a list that filters by it in the store. */
function filterInstant(field: 'since' | 'until', value: string | undefined): Date | undefined {
  const date = instant(value);
  if (date && Number.isNaN(date.getTime())) {
    throw new DomainError('VALIDATION_ERROR', `querystring.${field} is not an instant this API can use`, [
      { field: `querystring.${field}`, message: 'must be an ISO-8601 instant without a leap second' },
    ]);
  }
  return date;
}

export const scheduleRoutes = (deps: ScheduleRouteDeps): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { schedules, reader } = deps;
  const tags = ['schedules'];
  const existing = async (id: string) => {
    const schedule = await getSchedule(reader, id);
    if (!schedule) throw notFound('SCHEDULE', id);
    return schedule;
  };

  app.post('/v1/schedules', {
    onRequest: deps.auth.require('write'),
    schema: { tags, summary: 'Create an on-call schedule', headers: IdempotencyHeaders, body: ScheduleInput, response: { 201: ScheduleBody, ...errors(400, 401, 403, 409, 413, 415, 429) } },
  }, async (request, reply) =>
    deps.idempotent(request, reply, 201, async (tx) => {
      const schedule = await schedules.createIn(tx, actorOf(request.principal!), request.body);
      return { body: presentSchedule(schedule), headers: { location: `/v1/schedules/${schedule.id}`, etag: etagOf(schedule.version) } };
    }));

  app.get('/v1/schedules', {
    onRequest: deps.auth.require('read'),
    schema: { tags, summary: 'List schedules, newest first', querystring: ScheduleListQuery, response: { 200: Page(ScheduleBody), ...errors(400, 401, 403) } },
  }, async (request) => {
    const { limit = 50, ...rest } = request.query;
    const result = await listSchedules(reader, { ...rest, limit });
    return { data: result.data.map(presentSchedule), next_cursor: result.next_cursor };
  });

  app.get('/v1/schedules/:id', {
    onRequest: deps.auth.require('read'),
    schema: { tags, summary: 'Get a schedule (with an ETag)', params: IdParams, response: { 200: ScheduleBody, 304: Type.Null(), ...errors(400, 401, 403, 404) } },
  }, async (request, reply) => {
    const schedule = await existing(request.params.id);
    reply.header('etag', etagOf(schedule.version));
    if (isNotModified(request, schedule.version)) return reply.code(304).send(null);
    return presentSchedule(schedule);
  });

  app.put('/v1/schedules/:id', {
    onRequest: deps.auth.require('write'),
    schema: {
      tags,
      summary: 'Replace a schedule: its name, zone and layers (and its team, when team_id is given)',
      description: 'Takes effect at once: the next escalation level paged looks up who is on call in the new schedule; pages already sent stay sent.',
      params: IdParams,
      headers: IfMatchHeaders,
      body: ScheduleInput,
      response: { 200: ScheduleBody, ...errors(400, 401, 403, 404, 412, 413, 415, 429) },
    },
  }, async (request, reply) => {
    const schedule = await schedules.replace(request.params.id, request.body, expectedVersion(request));
    reply.header('etag', etagOf(schedule.version));
    return presentSchedule(schedule);
  });

  app.delete('/v1/schedules/:id', {
    onRequest: deps.auth.require('admin'),
    schema: {
      tags,
      summary: 'Delete a schedule with its overrides and iCalendar feeds (admin)',
      description: '409 SCHEDULE_IN_USE, naming the policies, while an escalation level pages through it.',
      params: IdParams,
      headers: IfMatchHeaders,
      response: { 204: Type.Null(), ...errors(400, 401, 403, 404, 409, 412, 429) },
    },
  }, async (request, reply) => {
    await schedules.remove(request.params.id, expectedVersion(request));
    return reply.code(204).send(null);
  });

  app.post('/v1/schedules/:id/overrides', {
    onRequest: deps.auth.require('write'),
    schema: {
      tags,
      summary: 'Put someone on call for a window instead of whatever the layers give',
      description: 'Where overrides overlap, the one created last wins.',
      params: IdParams,
      headers: IdempotencyHeaders,
      body: OverrideInput,
      response: { 201: OverrideBody, ...errors(400, 401, 403, 404, 409, 413, 415, 429) },
    },
  }, async (request, reply) =>
    deps.idempotent(request, reply, 201, async (tx) => {
      const { user_id, start, end } = request.body;
      const override = await schedules.addOverrideIn(tx, actorOf(request.principal!), request.params.id, { user_id, start: new Date(start), end: new Date(end) });
      return { body: presentOverride(override) };
    }));

  app.get('/v1/schedules/:id/overrides', {
    onRequest: deps.auth.require('read'),
    schema: {
      tags,
      summary: "A schedule's overrides in start order; with since and until, those overlapping that window",
      params: IdParams,
      querystring: OverrideListQuery,
      response: { 200: Page(OverrideBody), ...errors(400, 401, 403, 404) },
    },
  }, async (request) => {
    const { since, until, limit = 50, cursor } = request.query;
    const [, result] = await Promise.all([
      existing(request.params.id),
      listOverrides(reader, request.params.id, { since: filterInstant('since', since), until: filterInstant('until', until), limit, cursor }),
    ]);
    return { data: result.data.map(presentOverride), next_cursor: result.next_cursor };
  });

  app.delete('/v1/schedules/:id/overrides/:override_id', {
    onRequest: deps.auth.require('write'),
    schema: { tags, summary: 'Remove an override', params: OverrideParams, response: { 204: Type.Null(), ...errors(400, 401, 403, 404, 429) } },
  }, async (request, reply) => {
    await schedules.removeOverride(request.params.id, request.params.override_id);
    return reply.code(204).send(null);
  });

  app.get('/v1/schedules/:id/on-call', {
    onRequest: deps.auth.require('read'),
    schema: { tags, summary: 'Who is on call at an instant (default now), and until when', params: IdParams, querystring: AtQuery, response: { 200: OnCallBody, ...errors(400, 401, 403, 404) } },
  }, async (request) => {
    const answer = await schedules.onCall(request.params.id, instant(request.query.at));
    return { at: answer.at.toISOString(), user_ids: answer.user_ids, until: answer.until?.toISOString() ?? null };
  });

  const windowRoute = (path: '/v1/schedules/:id/final' | '/v1/schedules/:id/gaps', summary: string, compute: typeof schedules.final) =>
    app.get(path, {
      onRequest: deps.auth.require('read'),
      schema: { tags, summary, params: IdParams, querystring: WindowQuery, response: { 200: EntriesBody, ...errors(400, 401, 403, 404) } },
    }, async (request) => {
      const result = await compute(request.params.id, { since: instant(request.query.since), until: instant(request.query.until) });
      return { since: result.since.toISOString(), until: result.until.toISOString(), entries: result.entries.map(presentEntry) };
    });
  windowRoute('/v1/schedules/:id/final', 'The final schedule of a window (at most 93 days): layers and overrides merged, gaps included', schedules.final);
  windowRoute('/v1/schedules/:id/gaps', 'The gaps of a window (at most 93 days): when nobody is on call', schedules.gaps);

  app.get('/v1/users/:id/shifts', {
    onRequest: deps.auth.require('read'),
    schema: {
      tags,
      summary: "A user's shifts in every schedule, within a window of at most 93 days",
      params: IdParams,
      querystring: WindowQuery,
      response: { 200: ShiftsBody, ...errors(400, 401, 403, 404) },
    },
  }, async (request) => {
    const result = await schedules.shifts(request.params.id, { since: instant(request.query.since), until: instant(request.query.until) });
    return {
      since: result.since.toISOString(),
      until: result.until.toISOString(),
      data: result.shifts.map((s) => ({ schedule_id: s.schedule_id, start: s.start.toISOString(), end: s.end.toISOString() })),
    };
  });

  app.post('/v1/schedules/:id/ical-feeds', {
    onRequest: deps.auth.require('write'),
    // Every field is optional, so a POST without a body is a feed of the whole schedule.
    preValidation: async (request) => {
      request.body ??= {};
    },
    schema: {
      tags,
      summary: 'Make an iCalendar feed of the final schedule, or of one user\'s shifts, for a calendar to subscribe to',
      description: 'The URL needs no key: keep it as secret as a key. It holds from 7 days back to 90 days ahead.',
      params: IdParams,
      headers: IdempotencyHeaders,
      body: FeedInput,
      response: { 201: CreatedFeedBody, ...errors(400, 401, 403, 404, 409, 413, 415, 429) },
    },
  }, async (request, reply) =>
    deps.idempotent(request, reply, 201, async (tx) => {
      const { feed, token } = await schedules.createFeedIn(tx, actorOf(request.principal!), request.params.id, request.body);
      return { body: { ...presentFeed(feed), url: `${deps.publicUrl}${feedPath(token)}` } };
    }));

  app.get('/v1/schedules/:id/ical-feeds', {
    onRequest: deps.auth.require('read'),
    schema: { tags, summary: "A schedule's iCalendar feeds, newest first (their URLs are shown only when made)", params: IdParams, querystring: PageOnlyQuery, response: { 200: Page(FeedBody), ...errors(400, 401, 403, 404) } },
  }, async (request) => {
    const { limit = 50, cursor } = request.query;
    const [, result] = await Promise.all([existing(request.params.id), listIcalFeeds(reader, request.params.id, { limit, cursor })]);
    return { data: result.data.map(presentFeed), next_cursor: result.next_cursor };
  });

  app.delete('/v1/schedules/:id/ical-feeds/:feed_id', {
    onRequest: deps.auth.require('write'),
    schema: { tags, summary: 'Revoke an iCalendar feed: its URL then answers 404', params: FeedParams, response: { 204: Type.Null(), ...errors(400, 401, 403, 404, 429) } },
  }, async (request, reply) => {
    await schedules.removeFeed(request.params.id, request.params.feed_id);
    return reply.code(204).send(null);
  });

  app.get('/v1/ical-feeds/:token.ics', {
    // Per feed, as an intake key is: a shared URL cannot be fetched without bound, and guessing
    // tokens (each a 404) spends the address's budget of requests without a valid key.
    config: intakeRateLimit(deps.intakePerMinute, (request) => (request.params as { token?: string }).token),
    schema: {
      tags,
      summary: 'An iCalendar feed (RFC 5545), for calendar applications (no auth header: the URL is the secret)',
      security: [],
      params: TokenParams,
      response: {
        200: { description: 'text/calendar', content: { 'text/calendar': { schema: Type.String() } } },
        ...errors(404, 429),
      },
    },
  }, async (request, reply) => {
    const feed = await schedules.feed(request.params.token);
    const text = icalFeed({
      scheduleId: feed.schedule.id,
      scheduleName: feed.schedule.name,
      calendarName: feed.calendarName,
      entries: feed.entries,
      userId: feed.userId,
      userNames: feed.userNames,
      generatedAt: feed.generatedAt,
    });
    return reply.type('text/calendar; charset=utf-8').header('cache-control', 'private, max-age=300').send(text);
  });
};

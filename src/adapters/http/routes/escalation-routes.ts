import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { EscalationSetupUseCases } from '../../../app/escalation-setup-use-cases.ts';
import { notFound } from '../../../domain/errors.ts';
import { MAX_DELAY_SECONDS, MAX_LEVELS, MAX_REPEAT, type EscalationPolicy, type Team } from '../../../domain/escalation.ts';
import type { Tx } from '../../../ports/transact.ts';
import { getPolicy, listPolicies } from '../../postgres/escalation-policy-store.ts';
import { listEscalationSteps, type EscalationStepRow } from '../../postgres/escalation-store.ts';
import { getIncident } from '../../postgres/incident-store.ts';
import { getTeam, listTeams } from '../../postgres/team-store.ts';
import type { Authenticator } from '../auth.ts';
import type { Idempotency } from '../idempotency.ts';
import { errors, IdempotencyHeaders, IdParams, Nullable, Page, PageOnlyQuery, PageQuery, Timestamp, toIso, Uuid } from '../schemas.ts';

const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });

const Level = Type.Object(
  {
    delay_seconds: Type.Integer({
      minimum: 0,
      maximum: MAX_DELAY_SECONDS,
      description: 'how long after the previous level this one is paged; level 0 is paged at once, and its delay (or else the last level\'s) is the pause before a repeat',
    }),
    user_ids: Type.Optional(Type.Array(Uuid, { maxItems: 50, description: 'the people this level pages' })),
    schedule_ids: Type.Optional(Type.Array(Uuid, {
      maxItems: 20,
      description: 'on-call schedules (SPEC section 11): whoever is on call in each when the level is paged (and again at each repeat) is paged',
    })),
  },
  { additionalProperties: false, description: 'a level names users, schedules, or both' },
);

const CreatePolicy = Type.Object(
  {
    name: Name,
    levels: Type.Array(Level, { minItems: 1, maxItems: MAX_LEVELS }),
    repeat: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_REPEAT, default: 0, description: 'how many more times the whole policy runs while nobody acknowledges' })),
  },
  { additionalProperties: false },
);

const PolicyBody = Type.Object({
  id: Uuid,
  name: Type.String(),
  levels: Type.Array(Type.Object({ level: Type.Integer(), delay_seconds: Type.Integer(), user_ids: Type.Array(Uuid), schedule_ids: Type.Array(Uuid) })),
  repeat: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const CreateTeam = Type.Object(
  {
    name: Name,
    member_ids: Type.Optional(Type.Array(Uuid, { maxItems: 500 })),
    escalation_policy_id: Type.Optional(Nullable({ ...Uuid, description: "the policy that pages for the team's incidents; none pages nobody" })),
  },
  { additionalProperties: false },
);

const TeamBody = Type.Object({
  id: Uuid,
  name: Type.String(),
  member_ids: Type.Array(Uuid),
  escalation_policy_id: Nullable(Uuid),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const StepBody = Type.Object({
  run: Type.Integer({ description: 'each (re)start of paging: 0, then one more when the incident moves to another team' }),
  round: Type.Integer({ description: '0 for the first pass through the policy, 1 for the first repeat' }),
  level: Type.Integer(),
  policy_id: Uuid,
  status: Type.Enum(['scheduled', 'paged', 'cancelled']),
  due_at: Timestamp,
  paged_at: Nullable(Timestamp),
});

const ListQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });

const presentPolicy = (p: EscalationPolicy) => ({
  id: p.id,
  name: p.name,
  levels: p.levels.map((l, level) => ({ level, delay_seconds: l.delay_seconds, user_ids: l.user_ids, schedule_ids: l.schedule_ids })),
  repeat: p.repeat,
  created_at: p.created_at.toISOString(),
  updated_at: p.updated_at.toISOString(),
});

const presentTeam = (t: Team) => ({
  id: t.id,
  name: t.name,
  member_ids: t.member_ids,
  escalation_policy_id: t.escalation_policy_id,
  created_at: t.created_at.toISOString(),
  updated_at: t.updated_at.toISOString(),
});

const presentStep = (s: EscalationStepRow) => ({
  run: s.run,
  round: s.round,
  level: s.level,
  policy_id: s.policy_id,
  status: s.status,
  due_at: s.due_at.toISOString(),
  paged_at: toIso(s.paged_at),
});

export interface EscalationRouteDeps {
  setup: EscalationSetupUseCases;
  /** For plain reads, outside any transaction. */
  reader: Tx;
  auth: Authenticator;
  idempotent: Idempotency;
}

/** SPEC section 5: escalation policies, teams, and where an incident is in its escalation. */
export const escalationRoutes = (deps: EscalationRouteDeps): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.post('/v1/escalation-policies', {
    onRequest: deps.auth.require('write'),
    schema: {
      tags: ['escalation'],
      summary: 'Create an escalation policy',
      headers: IdempotencyHeaders,
      body: CreatePolicy,
      response: { 201: PolicyBody, ...errors(400, 401, 403, 409, 413, 415, 429) },
    },
  }, async (request, reply) =>
    deps.idempotent(request, reply, 201, async (tx) => {
      const policy = await deps.setup.createPolicyWithin(tx, request.body);
      return { body: presentPolicy(policy), headers: { location: `/v1/escalation-policies/${policy.id}` } };
    }));

  app.get('/v1/escalation-policies', {
    onRequest: deps.auth.require('read'),
    schema: { tags: ['escalation'], summary: 'List escalation policies, newest first', querystring: ListQuery, response: { 200: Page(PolicyBody), ...errors(400, 401, 403) } },
  }, async (request) => {
    const result = await listPolicies(deps.reader, { limit: request.query.limit ?? 50, ...(request.query.cursor ? { cursor: request.query.cursor } : {}) });
    return { data: result.data.map(presentPolicy), next_cursor: result.next_cursor };
  });

  app.get('/v1/escalation-policies/:id', {
    onRequest: deps.auth.require('read'),
    schema: { tags: ['escalation'], summary: 'Get an escalation policy', params: IdParams, response: { 200: PolicyBody, ...errors(400, 401, 403, 404) } },
  }, async (request) => {
    const policy = await getPolicy(deps.reader, request.params.id);
    if (!policy) throw notFound('ESCALATION_POLICY', request.params.id);
    return presentPolicy(policy);
  });

  app.post('/v1/teams', {
    onRequest: deps.auth.require('write'),
    schema: {
      tags: ['escalation'],
      summary: 'Create a team with members and an escalation policy',
      headers: IdempotencyHeaders,
      body: CreateTeam,
      response: { 201: TeamBody, ...errors(400, 401, 403, 409, 413, 415, 429) },
    },
  }, async (request, reply) =>
    deps.idempotent(request, reply, 201, async (tx) => {
      const team = await deps.setup.createTeamWithin(tx, request.body);
      return { body: presentTeam(team), headers: { location: `/v1/teams/${team.id}` } };
    }));

  app.get('/v1/teams', {
    onRequest: deps.auth.require('read'),
    schema: { tags: ['escalation'], summary: 'List teams, newest first', querystring: ListQuery, response: { 200: Page(TeamBody), ...errors(400, 401, 403) } },
  }, async (request) => {
    const result = await listTeams(deps.reader, { limit: request.query.limit ?? 50, ...(request.query.cursor ? { cursor: request.query.cursor } : {}) });
    return { data: result.data.map(presentTeam), next_cursor: result.next_cursor };
  });

  app.get('/v1/teams/:id', {
    onRequest: deps.auth.require('read'),
    schema: { tags: ['escalation'], summary: 'Get a team', params: IdParams, response: { 200: TeamBody, ...errors(400, 401, 403, 404) } },
  }, async (request) => {
    const team = await getTeam(deps.reader, request.params.id);
    if (!team) throw notFound('TEAM', request.params.id);
    return presentTeam(team);
  });

  app.get('/v1/incidents/:id/escalations', {
    onRequest: deps.auth.require('read'),
    schema: {
      tags: ['incidents'],
      summary: "The incident's escalation steps in order: paged, scheduled (with when) and cancelled",
      params: IdParams,
      querystring: PageOnlyQuery,
      response: { 200: Page(StepBody), ...errors(400, 401, 403, 404) },
    },
  }, async (request) => {
    const { limit = 50, cursor } = request.query;
    const [incident, steps] = await Promise.all([getIncident(deps.reader, request.params.id), listEscalationSteps(deps.reader, request.params.id, { limit, cursor })]);
    if (!incident) throw notFound('INCIDENT', request.params.id);
    return { data: steps.data.map(presentStep), next_cursor: steps.next_cursor };
  });
};

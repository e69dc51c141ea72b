import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { UserUseCases } from '../../../app/user-use-cases.ts';
import { DomainError, notFound } from '../../../domain/errors.ts';
import { channels } from '../../../domain/notification.ts';
import { roles, type User } from '../../../domain/user.ts';
import { allows } from '../../../domain/api-key.ts';
import type { Tx } from '../../../ports/transact.ts';
import { getUser, listUsers } from '../../postgres/user-store.ts';
import type { Authenticator } from '../auth.ts';
import { etagOf, expectedVersion, isNotModified } from '../etag.ts';
import type { Idempotency } from '../idempotency.ts';
import { errors, IdempotencyHeaders, IdParams, Nullable, Page, PageQuery, Timestamp, Uuid } from '../schemas.ts';

const Channel = Type.Enum([...channels]);
const ClockTime = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'HH:MM, 24-hour, in the user\'s time zone' });
const QuietHours = Type.Object(
  { start: ClockTime, end: ClockTime },
  { additionalProperties: false, description: 'nothing but P1 pages is delivered from start to end; may wrap midnight (22:00 to 07:00)' },
);
const Switch = Type.Optional(Type.Boolean());
const ChannelSwitches = Type.Object(
  { email: Switch, sms: Switch, push: Switch, webhook: Switch, slack: Switch },
  { additionalProperties: false, description: 'a channel set to false is never paged; every channel is on unless turned off' },
);
const PreferencesInput = Type.Object(
  { channels: Type.Optional(ChannelSwitches), quiet_hours: Type.Optional(Nullable(QuietHours)) },
  { additionalProperties: false },
);
const ContactMethodInput = Type.Object(
  { type: Channel, address: Type.String({ minLength: 1, maxLength: 2048, description: 'email address, E.164 phone number, device token, or webhook/Slack URL' }) },
  { additionalProperties: false },
);

const Role = Type.Enum([...roles], { description: 'SPEC section 10: responder (default; the scopes read and write) or admin (admin). Setting it needs the admin scope.' });

const userFields = {
  name: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' }),
  email: Type.String({ minLength: 3, maxLength: 320 }),
  role: Type.Optional(Role),
  phone: Type.Optional(Nullable(Type.String({ maxLength: 20, description: 'E.164, such as +14155550100' }))),
  locale: Type.Optional(Type.String({ minLength: 1, maxLength: 35, description: 'templates fall back pt-BR → pt → en; default en' })),
  timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'an IANA name such as Europe/Lisbon; default UTC' })),
  contact_methods: Type.Optional(Type.Array(ContactMethodInput, { maxItems: 20, description: 'default: the email address, and the phone number for sms' })),
  preferences: Type.Optional(PreferencesInput),
};

const CreateUser = Type.Object(userFields, { additionalProperties: false });
const PatchUser = Type.Object(
  { ...userFields, name: Type.Optional(userFields.name), email: Type.Optional(userFields.email) },
  { additionalProperties: false },
);

export const UserBody = Type.Object({
  id: Uuid,
  name: Type.String(),
  email: Type.String(),
  role: Role,
  phone: Nullable(Type.String()),
  locale: Type.String(),
  timezone: Type.String(),
  contact_methods: Type.Array(Type.Object({ id: Uuid, type: Channel, address: Type.String() })),
  preferences: Type.Object({
    channels: Type.Object({ email: Type.Boolean(), sms: Type.Boolean(), push: Type.Boolean(), webhook: Type.Boolean(), slack: Type.Boolean() }),
    quiet_hours: Nullable(QuietHours),
  }),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const ListQuery = Type.Object(
  { email: Type.Optional(Type.String({ minLength: 1, maxLength: 320, description: 'exact address, any case' })), ...PageQuery },
  { additionalProperties: false },
);

const IfMatchHeaders = Type.Object({ 'if-match': Type.Optional(Type.String({ description: 'an ETag from a previous GET; 412 if the user changed since' })) });

export const presentUser = (u: User) => ({
  id: u.id,
  name: u.name,
  email: u.email,
  role: u.role,
  phone: u.phone,
  locale: u.locale,
  timezone: u.timezone,
  contact_methods: u.contact_methods.map((m) => ({ id: m.id, type: m.type, address: m.address })),
  preferences: { channels: u.preferences.channels, quiet_hours: u.preferences.quiet_hours },
  created_at: u.created_at.toISOString(),
  updated_at: u.updated_at.toISOString(),
});

/** Roles are granted by admins only: a responder must not make themselves (or anyone) an admin. */
function checkRoleChange(request: FastifyRequest, body: { role?: unknown }): void {
  if (body.role !== undefined && !allows(request.principal?.scopes ?? [], 'admin')) {
    throw new DomainError('FORBIDDEN', 'only an admin can set a role', { required: 'admin', field: 'body.role' });
  }
}

export interface UserRouteDeps {
  users: UserUseCases;
  /** For plain reads, outside any transaction. */
  reader: Tx;
  auth: Authenticator;
  idempotent: Idempotency;
}

/** SPEC section 5: the people Tocsin pages. */
export const userRoutes = (deps: UserRouteDeps): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['people'];

  app.post('/v1/users', {
    onRequest: deps.auth.require('write'),
    schema: {
      tags,
      summary: 'Create a user with contact methods and preferences',
      headers: IdempotencyHeaders,
      body: CreateUser,
      response: { 201: UserBody, ...errors(400, 401, 403, 409, 413, 415, 429) },
    },
  }, async (request, reply) => {
    checkRoleChange(request, request.body);
    return deps.idempotent(request, reply, 201, async (tx) => {
      const user = await deps.users.createWithin(tx, request.body);
      return { body: presentUser(user), headers: { location: `/v1/users/${user.id}`, etag: etagOf(user.version) } };
    });
  });

  app.get('/v1/users', {
    onRequest: deps.auth.require('read'),
    schema: { tags, summary: 'List users, newest first', querystring: ListQuery, response: { 200: Page(UserBody), ...errors(400, 401, 403) } },
  }, async (request) => {
    const { limit = 50, ...rest } = request.query;
    const result = await listUsers(deps.reader, { ...rest, limit });
    return { data: result.data.map(presentUser), next_cursor: result.next_cursor };
  });

  app.get('/v1/users/:id', {
    onRequest: deps.auth.require('read'),
    schema: { tags, summary: 'Get a user (with an ETag)', params: IdParams, response: { 200: UserBody, 304: Type.Null(), ...errors(400, 401, 403, 404) } },
  }, async (request, reply) => {
    const user = await getUser(deps.reader, request.params.id);
    if (!user) throw notFound('USER', request.params.id);
    reply.header('etag', etagOf(user.version));
    if (isNotModified(request, user.version)) return reply.code(304).send(null);
    return presentUser(user);
  });

  app.patch('/v1/users/:id', {
    onRequest: deps.auth.require('write'),
    schema: {
      tags,
      summary: 'Change a user',
      description: 'contact_methods replaces the list; preferences.channels is merged channel by channel; preferences.quiet_hours replaces them (null removes them).',
      params: IdParams,
      headers: IfMatchHeaders,
      body: PatchUser,
      response: { 200: UserBody, ...errors(400, 401, 403, 404, 412, 413, 415, 429) },
    },
  }, async (request, reply) => {
    checkRoleChange(request, request.body);
    const user = await deps.users.update(request.params.id, request.body, expectedVersion(request));
    reply.header('etag', etagOf(user.version));
    return presentUser(user);
  });
};

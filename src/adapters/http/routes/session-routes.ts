import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { MIN_PASSWORD_LENGTH, type AccountUseCases, type SignedIn } from '../../../app/account-use-cases.ts';
import { DomainError } from '../../../domain/errors.ts';
import type { Tx } from '../../../ports/transact.ts';
import { deleteSession } from '../../postgres/session-store.ts';
import { getUser } from '../../postgres/user-store.ts';
import type { Authenticator } from '../auth.ts';
import { etagOf, isNotModified } from '../etag.ts';
import { sendPage } from '../html-page.ts';
import type { SessionAuth } from '../session-auth.ts';
import { errors, IdParams, Timestamp } from '../schemas.ts';
import { presentUser, UserBody } from './user-routes.ts';

// SPEC section 10: people sign in. POST /v1/sessions, GET /v1/me, DELETE /v1/sessions/current,
// POST /v1/users/:id/invite, GET /setup and POST /v1/setup (what the setup page and the console call).

const SignIn = Type.Object(
  {
    email: Type.String({ minLength: 1, maxLength: 320 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);

const SetPassword = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 200, description: 'the token in the fragment of the link (#token=...)' }),
    password: Type.String({ minLength: MIN_PASSWORD_LENGTH, maxLength: 1024, description: `at least ${MIN_PASSWORD_LENGTH} characters` }),
  },
  { additionalProperties: false },
);

const ChangePassword = Type.Object(
  {
    current_password: Type.String({ minLength: 1, maxLength: 1024 }),
    password: Type.String({ minLength: MIN_PASSWORD_LENGTH, maxLength: 1024, description: `the new password, at least ${MIN_PASSWORD_LENGTH} characters` }),
  },
  { additionalProperties: false },
);

const SessionBody = Type.Object({
  user: UserBody,
  expires_at: { ...Timestamp, description: 'when the session ends unless used; each use slides it to SESSION_TTL_HOURS from then' },
});

const InviteBody = Type.Object({
  url: Type.String({ description: 'PUBLIC_URL/setup#token=...: a one-time link to set a password (a reset link if the user has one)' }),
  expires_at: Timestamp,
});

const SETUP_SCRIPT = `
const token = new URLSearchParams(location.hash.slice(1)).get('token');
history.replaceState(null, '', location.pathname);
const form = document.getElementById('setup');
const status = document.getElementById('status');
if (!token) {
  status.textContent = 'This link has no token. Open the link you were sent again, or ask an admin for a new one.';
  form.querySelector('button').disabled = true;
}
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const password = form.elements.password.value;
  if (password.length < ${MIN_PASSWORD_LENGTH}) {
    status.textContent = 'The password needs at least ${MIN_PASSWORD_LENGTH} characters.';
    form.elements.password.focus();
    return;
  }
  status.textContent = 'Setting your password ...';
  const response = await fetch('/v1/setup', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, password }) });
  if (response.status === 201) {
    form.hidden = true;
    document.getElementById('done').hidden = false;
    document.getElementById('continue').focus();
    return;
  }
  const body = await response.json().catch(() => ({}));
  status.textContent = body.message || 'That did not work (' + response.status + '). Ask an admin for a new link.';
});`;

const SETUP_BODY = `<h1>Set your password</h1>
<form id="setup">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" minlength="${MIN_PASSWORD_LENGTH}" maxlength="1024" required autocomplete="new-password" aria-describedby="password-hint">
  <p id="password-hint" class="hint">At least ${MIN_PASSWORD_LENGTH} characters. Setting it signs you in here and out everywhere else.</p>
  <button type="submit">Set password and sign in</button>
  <p id="status" role="status" aria-live="polite"></p>
</form>
<div id="done" hidden><p>Your password is set and you are signed in.</p><p><a id="continue" href="/">Continue to Tocsin</a></p></div>
<noscript><p>This page needs JavaScript to read the link's token.</p></noscript>`;

export interface SessionRouteDeps {
  accounts: AccountUseCases;
  sessions: SessionAuth;
  reader: Tx;
  auth: Authenticator;
}

export const sessionRoutes = (deps: SessionRouteDeps): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['sign-in'];

  const signedIn = (reply: FastifyReply, session: SignedIn) => {
    deps.sessions.setCookie(reply, session.token, session.expires_at);
    return reply.code(201).send({ user: presentUser(session.user), expires_at: session.expires_at.toISOString() });
  };
  const person = (request: FastifyRequest): string => {
    const id = request.principal?.user_id;
    if (!id) throw new DomainError('UNAUTHORIZED', 'this route is about the person signed in: sign in (POST /v1/sessions); an API key is not a person');
    return id;
  };

  app.post('/v1/sessions', {
    schema: {
      tags,
      summary: 'Sign in: sets the tocsin_session cookie',
      description: `A wrong email and a wrong password get the same 401 INVALID_CREDENTIALS. After 10 failures in 15 minutes for one email, or 50 from one address, 429 with Retry-After.`,
      security: [],
      body: SignIn,
      response: { 201: SessionBody, ...errors(400, 401, 413, 415, 429) },
    },
  }, async (request, reply) => signedIn(reply, await deps.accounts.signIn(request.body.email, request.body.password, request.ip)));

  app.get('/v1/me', {
    onRequest: deps.auth.require('read'),
    schema: { tags, summary: 'The person signed in, as GET /v1/users/:id answers', response: { 200: UserBody, 304: Type.Null(), ...errors(401, 403) } },
  }, async (request, reply) => {
    const id = person(request);
    const user = await getUser(deps.reader, id);
    if (!user) throw new DomainError('UNAUTHORIZED', 'the account no longer exists');
    reply.header('etag', etagOf(user.version));
    if (isNotModified(request, user.version)) return reply.code(304).send(null);
    return presentUser(user);
  });

  app.delete('/v1/sessions/current', {
    onRequest: deps.auth.require('read'),
    schema: { tags, summary: 'Sign out: ends this session (needs Origin equal to PUBLIC_URL\'s)', response: { 204: Type.Null(), ...errors(401, 403, 429) } },
  }, async (request, reply) => {
    person(request);
    if (request.session) await deleteSession(deps.reader, request.session.token);
    deps.sessions.clearCookie(reply);
    return reply.code(204).send(null);
  });

  app.post('/v1/me/password', {
    onRequest: deps.auth.require('read'),
    schema: {
      tags,
      summary: 'Change the password of the person signed in; ends their other sessions, keeps this one',
      description: 'A wrong current_password is 401 INVALID_CREDENTIALS and counts toward the sign-in throttling.',
      body: ChangePassword,
      response: { 204: Type.Null(), ...errors(400, 401, 403, 413, 415, 429) },
    },
  }, async (request, reply) => {
    const id = person(request);
    if (!request.session) throw new DomainError('UNAUTHORIZED', 'changing a password needs the session cookie');
    await deps.accounts.changePassword(id, request.session.token, request.body.current_password, request.body.password, request.ip);
    return reply.code(204).send(null);
  });

  app.post('/v1/users/:id/invite', {
    onRequest: deps.auth.require('admin'),
    schema: {
      tags,
      summary: 'A one-time link (24 h) where the user sets a password (admin); a reset link if they have one',
      description: 'No body, or {}.',
      params: IdParams,
      response: { 201: InviteBody, ...errors(400, 401, 403, 404, 413, 415, 429) },
    },
  }, async (request, reply) => {
    // SPEC section 10: no body, or {} (Fastify cannot declare a body that may be absent).
    const body = request.body;
    if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body) || Object.keys(body).length > 0)) {
      throw new DomainError('VALIDATION_ERROR', 'invalid request: the body must be empty or {}', [{ field: 'body', message: 'must be empty or {}' }]);
    }
    const invite = await deps.accounts.invite(request.params.id);
    return reply.code(201).send({ url: invite.url, expires_at: invite.expires_at.toISOString() });
  });

  app.post('/v1/setup', {
    schema: {
      tags,
      summary: 'Set a password with the token of a setup link; signs in as POST /v1/sessions does',
      description: 'Ends every other session of the user. A token that is unknown, used or expired is 400 VALIDATION_ERROR naming body.token.',
      security: [],
      body: SetPassword,
      response: { 201: SessionBody, ...errors(400, 413, 415, 429) },
    },
  }, async (request, reply) => signedIn(reply, await deps.accounts.setPassword(request.body.token, request.body.password)));

  app.get('/setup', {
    schema: { tags, summary: 'The page of a setup link (HTML): a password form that calls POST /v1/setup', security: [], produces: ['text/html'] },
  }, async (_request, reply) => sendPage(reply, 200, 'Set your password', SETUP_BODY, SETUP_SCRIPT));
};

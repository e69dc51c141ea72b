import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { scopes } from '../../../domain/api-key.ts';
import { notFound } from '../../../domain/errors.ts';
import { createApiKey, listApiKeys, revokeApiKey, type ApiKeyRecord } from '../../postgres/api-key-store.ts';
import type { Tx } from '../../../ports/transact.ts';
import type { Authenticator } from '../auth.ts';
import { errors, IdParams, Page, PageOnlyQuery, Timestamp, Uuid } from '../schemas.ts';

const Scope = Type.Enum([...scopes], { description: 'read < write < admin; each includes the ones before it' });

const ApiKeyBody = Type.Object({
  id: Uuid,
  name: Type.String(),
  scopes: Type.Array(Scope),
  key_prefix: Type.String({ description: 'the first characters of the key, to tell keys apart' }),
  created_at: Timestamp,
});

const CreatedApiKeyBody = Type.Object({
  ...ApiKeyBody.properties,
  key: Type.String({ description: 'the secret; shown only in this response' }),
});

const CreateApiKey = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' }),
    scopes: Type.Array(Scope, { minItems: 1, maxItems: 3, uniqueItems: true }),
  },
  { additionalProperties: false },
);

const present = (key: ApiKeyRecord) => ({ ...key, created_at: key.created_at.toISOString() });

export const apiKeyRoutes = (deps: { reader: Tx; auth: Authenticator }): FastifyPluginAsync =>
  async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    const tags = ['api keys'];

    app.post('/v1/api-keys', {
      onRequest: deps.auth.require('admin'),
      schema: {
        tags,
        summary: 'Create an API key (admin); the key is shown once',
        body: CreateApiKey,
        response: { 201: CreatedApiKeyBody, ...errors(400, 401, 403, 413, 415, 429) },
      },
    }, async (request, reply) => {
      // Not under Idempotency-Key: a replay would have to keep the secret, and only its hash is
      // ever stored. A client that lost the response revokes the key and makes another.
      const created = await createApiKey(deps.reader, request.body);
      return reply.code(201).header('location', `/v1/api-keys/${created.id}`).send({ ...present(created), key: created.key });
    });

    app.get('/v1/api-keys', {
      onRequest: deps.auth.require('admin'),
      schema: { tags, summary: 'List active API keys (admin), oldest first', querystring: PageOnlyQuery, response: { 200: Page(ApiKeyBody), ...errors(400, 401, 403) } },
    }, async (request) => {
      const { limit = 50, cursor } = request.query;
      const result = await listApiKeys(deps.reader, { limit, cursor });
      return { data: result.data.map(present), next_cursor: result.next_cursor };
    });

    app.delete('/v1/api-keys/:id', {
      onRequest: deps.auth.require('admin'),
      schema: { tags, summary: 'Revoke an API key (admin)', params: IdParams, response: { 204: Type.Null(), ...errors(400, 401, 403, 404, 429) } },
    }, async (request, reply) => {
      if (!(await revokeApiKey(deps.reader, request.params.id))) throw notFound('API_KEY', request.params.id);
      deps.auth.forget();
      return reply.code(204).send(null);
    });
  };

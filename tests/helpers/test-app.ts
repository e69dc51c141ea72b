import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Logger } from 'pino';
import { createApiKey } from '../../src/adapters/postgres/api-key-store.ts';
import type { Database } from '../../src/adapters/postgres/database.ts';
import { readerOf } from '../../src/adapters/postgres/transact.ts';
import { loadConfig } from '../../src/config.ts';
import { makeLogger } from '../../src/logger.ts';
import { startService, type Service, type ServiceRole } from '../../src/service.ts';
import { createTestDatabase } from './test-database.ts';

export interface TestApp {
  app: FastifyInstance;
  db: Database;
  service: Service;
  databaseUrl: string;
  keys: { admin: string; write: string; read: string };
  /** app.inject with a bearer key (the admin key unless `as` says otherwise). */
  call(options: InjectOptions & { as?: 'admin' | 'write' | 'read' | null }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/**
 * The real service (src/service.ts) on a database of its own: the API only by default, or API
 * and workers with `role: 'all'`. `shareDatabaseOf` starts a second "process" on the same database.
 */
export async function startTestApp(
  options: { env?: Record<string, string>; shareDatabaseOf?: TestApp; role?: ServiceRole; logger?: Logger } = {},
): Promise<TestApp> {
  const database = options.shareDatabaseOf ? undefined : await createTestDatabase();
  const url = options.shareDatabaseOf?.databaseUrl ?? database!.url;
  const config = loadConfig({ DATABASE_URL: url, ...options.env });
  const service = await startService({
    role: options.role ?? 'api',
    config,
    logger: options.logger ?? makeLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
    databaseUrl: url,
  });
  const app = service.app!;
  await app.ready();
  const db = service.db;
  const keys = options.shareDatabaseOf?.keys ?? {
    admin: (await createApiKey(readerOf(db), { name: 'test admin', scopes: ['admin'] })).key,
    write: (await createApiKey(readerOf(db), { name: 'test writer', scopes: ['write'] })).key,
    read: (await createApiKey(readerOf(db), { name: 'test reader', scopes: ['read'] })).key,
  };
  return {
    app,
    db,
    service,
    databaseUrl: url,
    keys,
    call({ as = 'admin', headers, ...rest }) {
      return app.inject({
        ...rest,
        headers: { ...(as ? { authorization: `Bearer ${keys[as]}` } : {}), ...headers },
      });
    },
    async close() {
      await service.close();
      await database?.drop();
    },
  };
}

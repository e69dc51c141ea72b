import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/adapters/http/app.ts';
import { createApiKey } from '../../src/adapters/postgres/api-key-store.ts';
import { makeDatabase, makePool, type Database } from '../../src/adapters/postgres/database.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { makeLogger } from '../../src/logger.ts';
import { systemClock } from '../../src/ports/clock.ts';
import { createTestDatabase } from './test-database.ts';

export interface TestApp {
  app: FastifyInstance;
  db: Database;
  databaseUrl: string;
  keys: { admin: string; write: string; read: string };
  /** app.inject with a bearer key (the admin key unless `as` says otherwise). */
  call(options: InjectOptions & { as?: 'admin' | 'write' | 'read' | null }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/**
 * The real HTTP app on a database of its own. `shareDatabaseOf` builds a second app (a second
 * "API process") on the same database.
 */
export async function startTestApp(
  options: { env?: Record<string, string>; shareDatabaseOf?: TestApp } = {},
): Promise<TestApp> {
  const database = options.shareDatabaseOf ? undefined : await createTestDatabase();
  const url = options.shareDatabaseOf?.databaseUrl ?? database!.url;
  const config: Config = loadConfig({ DATABASE_URL: url, ...options.env });
  const db = makeDatabase(makePool(url, 10));
  const app = await buildApp({
    db,
    logger: makeLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
    clock: systemClock,
    readiness: { queueStarted: () => true },
    config,
  });
  await app.ready();
  const keys = options.shareDatabaseOf?.keys ?? {
    admin: (await createApiKey(db, { name: 'test admin', scopes: ['admin'] })).key,
    write: (await createApiKey(db, { name: 'test writer', scopes: ['write'] })).key,
    read: (await createApiKey(db, { name: 'test reader', scopes: ['read'] })).key,
  };
  return {
    app,
    db,
    databaseUrl: url,
    keys,
    call({ as = 'admin', headers, ...rest }) {
      return app.inject({
        ...rest,
        headers: { ...(as ? { authorization: `Bearer ${keys[as]}` } : {}), ...headers },
      });
    },
    async close() {
      await app.close();
      await db.destroy();
      await database?.drop();
    },
  };
}

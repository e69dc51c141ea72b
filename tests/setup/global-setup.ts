import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { makeDatabase, makePool, migrateToLatest } from '../../src/adapters/postgres/database.ts';
import { makeBoss } from '../../src/adapters/queue/pg-boss-queue.ts';
import { makeLogger } from '../../src/logger.ts';
import { startTestServer } from './postgres-server.ts';
import { databaseUrl } from '../helpers/urls.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    serverUrl: string;
    templateDatabase: string;
  }
}

/**
 * Migrates one template database (Tocsin's tables and pg-boss's schema); every test file then
 * clones it with CREATE DATABASE ... TEMPLATE, which takes milliseconds instead of a migration run.
 */
export default async function setup(project: TestProject) {
  const log = (line: string) => process.stderr.write(`[test database] ${line}\n`);
  const server = await startTestServer(log);
  log(`using ${server.kind}`);
  const template = `tocsin_template_${process.pid}`;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`drop database if exists ${template}`);
  await admin.query(`create database ${template}`);

  const url = databaseUrl(server.url, template);
  const pool = makePool(url, 2);
  const db = makeDatabase(pool);
  await migrateToLatest(db);
  await db.destroy();
  const queue = makeBoss({ connectionString: url, logger: makeLogger('silent'), supervise: false });
  await queue.start();
  await queue.stop();

  project.provide('serverUrl', server.url);
  project.provide('templateDatabase', template);

  return async () => {
    await admin.query(`drop database if exists ${template} with (force)`);
    await admin.end();
    await server.stop();
  };
}

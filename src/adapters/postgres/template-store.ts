import { sql } from 'kysely';
import type { Channel } from '../../domain/notification.ts';
import type { Template } from '../../domain/template.ts';
import type { Tx } from '../../ports/transact.ts';
import { decodeKeyCursor, pageBy } from './cursor.ts';
import { executor } from './transact.ts';

// Templates (SPEC section 5): plain functions, the transaction first.

export interface NewTemplateRow {
  slug: string;
  channel: Channel;
  locale: string;
  subject: string | null;
  body: string;
  created_by: string;
}

const columns = ['id', 'slug', 'channel', 'locale', 'version', 'subject', 'body', 'created_by', 'created_at'] as const;

/** The latest version of a slug for each channel and locale it has (a handful: channels × locales). */
export async function latestVersionsOf(tx: Tx, slug: string): Promise<Template[]> {
  const rows = await executor(tx)
    .selectFrom('templates')
    .distinctOn(['channel', 'locale'])
    .select(columns)
    .where('slug', '=', slug)
    .orderBy('channel')
    .orderBy('locale')
    .orderBy('version', 'desc')
    .execute();
  return rows as Template[];
}

export interface TemplateFilter {
  channel?: Channel | undefined;
  locale?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

/** Every version of a slug, by channel and locale, newest first within each, a page at a time. */
export async function templateVersions(tx: Tx, slug: string, filter: TemplateFilter) {
  let query = executor(tx).selectFrom('templates').select(columns).where('slug', '=', slug);
  if (filter.channel) query = query.where('channel', '=', filter.channel);
  if (filter.locale) query = query.where('locale', '=', filter.locale);
  if (filter.cursor) {
    const [channel, locale, version] = decodeKeyCursor(filter.cursor, ['string', 'string', 'integer']);
    query = query.where(sql<boolean>`((channel, locale) > (${channel}, ${locale}) or (channel = ${channel} and locale = ${locale} and version < ${version}))`);
  }
  const rows = (await query.orderBy('channel').orderBy('locale').orderBy('version', 'desc').limit(filter.limit + 1).execute()) as Template[];
  return pageBy(rows, filter.limit, (t) => [t.channel, t.locale, t.version]);
}

/** GET /v1/templates: the latest version of each (slug, channel, locale), by slug. */
export async function listLatestTemplates(tx: Tx, filter: TemplateFilter) {
  let query = executor(tx)
    .selectFrom('templates')
    .distinctOn(['slug', 'channel', 'locale'])
    .select(columns)
    .orderBy('slug')
    .orderBy('channel')
    .orderBy('locale')
    .orderBy('version', 'desc');
  if (filter.channel) query = query.where('channel', '=', filter.channel);
  if (filter.locale) query = query.where('locale', '=', filter.locale);
  if (filter.cursor) {
    // Keyset position: (slug, channel, locale), which is unique among latest versions.
    const [slug, channel, locale] = decodeKeyCursor(filter.cursor, ['string', 'string', 'string']);
    query = query.where(sql<boolean>`(slug, channel, locale) > (${slug}, ${channel}, ${locale})`);
  }
  const rows = (await query.limit(filter.limit + 1).execute()) as Template[];
  return pageBy(rows, filter.limit, (t) => [t.slug, t.channel, t.locale]);
}

/** Adds the next version of (slug, channel, locale); concurrent additions queue, never collide. */
export async function addTemplateVersion(tx: Tx, row: NewTemplateRow): Promise<Template> {
  const db = executor(tx);
  // Versions are numbered per (slug, channel, locale); the advisory lock makes concurrent
  // additions take turns instead of racing for the same number.
  await sql`select pg_advisory_xact_lock(hashtextextended(${`template:${row.slug}:${row.channel}:${row.locale}`}, 0))`.execute(db);
  const { next } = await db
    .selectFrom('templates')
    .select(sql<number>`coalesce(max(version), 0) + 1`.as('next'))
    .where('slug', '=', row.slug)
    .where('channel', '=', row.channel)
    .where('locale', '=', row.locale)
    .executeTakeFirstOrThrow();
  return (await db.insertInto('templates').values({ ...row, version: next }).returning(columns).executeTakeFirstOrThrow()) as Template;
}

/** The latest version of the slug for the channel, in the first of `locales` that has one. */
export async function findLatestTemplate(tx: Tx, slug: string, channel: Channel, locales: string[]): Promise<Template | undefined> {
  const row = await executor(tx)
    .selectFrom('templates')
    .select(columns)
    .where('slug', '=', slug)
    .where('channel', '=', channel)
    .where('locale', 'in', locales)
    .orderBy(sql`array_position(${locales}::text[], locale)`)
    .orderBy('version', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row as Template | undefined;
}

/** The channels the slug has templates for. */
export async function templateChannels(tx: Tx, slug: string): Promise<Channel[]> {
  const rows = await executor(tx).selectFrom('templates').select('channel').distinct().where('slug', '=', slug).orderBy('channel').execute();
  return rows.map((r) => r.channel as Channel);
}

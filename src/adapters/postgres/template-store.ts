import { sql } from 'kysely';
import { DomainError } from '../../domain/errors.ts';
import type { Channel } from '../../domain/notification.ts';
import type { Template } from '../../domain/template.ts';
import type { TemplateWrites } from '../../ports/people-writes.ts';
import type { Executor } from './database.ts';

const columns = ['id', 'slug', 'channel', 'locale', 'version', 'subject', 'body', 'created_by', 'created_at'] as const;

/** Every version of a slug, newest first within each channel and locale. */
export async function templateVersions(db: Executor, slug: string): Promise<Template[]> {
  const rows = await db
    .selectFrom('templates')
    .select(columns)
    .where('slug', '=', slug)
    .orderBy('channel')
    .orderBy('locale')
    .orderBy('version', 'desc')
    .execute();
  return rows as Template[];
}

export interface TemplateFilter {
  channel?: Channel;
  locale?: string;
  limit: number;
  cursor?: string;
}

// Keyset position of the template list: (slug, channel, locale), which is unique among latest versions.
const encode = (t: Template) => Buffer.from(JSON.stringify([t.slug, t.channel, t.locale])).toString('base64url');
function decode(cursor: string): [string, string, string] {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === 'string')) return value as [string, string, string];
  } catch {
    // fall through
  }
  throw new DomainError('VALIDATION_ERROR', 'cursor is not one this API gave out', [
    { field: 'cursor', message: 'must be a next_cursor value from a previous page' },
  ]);
}

/** GET /v1/templates: the latest version of each (slug, channel, locale), by slug. */
export async function listLatestTemplates(db: Executor, filter: TemplateFilter) {
  let query = db
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
    const [slug, channel, locale] = decode(filter.cursor);
    query = query.where(sql<boolean>`(slug, channel, locale) > (${slug}, ${channel}, ${locale})`);
  }
  const rows = (await query.limit(filter.limit + 1).execute()) as Template[];
  const data = rows.slice(0, filter.limit);
  return { data, next_cursor: rows.length > filter.limit ? encode(data[data.length - 1]!) : null };
}

export function makeTemplateWrites(db: Executor): TemplateWrites {
  return {
    async addVersion(row) {
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
    },

    async findLatest(slug, channel, locales) {
      const row = await db
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
    },

    async channelsOf(slug) {
      const rows = await db.selectFrom('templates').select('channel').distinct().where('slug', '=', slug).orderBy('channel').execute();
      return rows.map((r) => r.channel as Channel);
    },
  };
}

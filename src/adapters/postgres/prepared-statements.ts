import { createHash } from 'node:crypto';
import type pg from 'pg';

const countStar = /count\(\*\)/gi;
/** A `*` that stands for columns: after select, returning, a comma or a qualifier (not a product). */
const columnStar = /(select|returning|,|([A-Za-z_][A-Za-z0-9_]*|"[^"]+")\.)\s*\*(\s+from\s+unnest\()?/gi;
const cteName = /(?:\bwith(?:\s+recursive)?|,)\s+("?)([A-Za-z_][A-Za-z0-9_]*)\1\s+as\s+(?:(?:not\s+)?materialized\s+)?\(/gi;

/** How deep in parentheses each position of `text` is. */
function depths(text: string): Int16Array {
  const depth = new Int16Array(text.length);
  let level = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === ')') level--;
    depth[i] = level;
    if (text[i] === '(') level++;
  }
  return depth;
}

/**
 * Whether a statement's result columns stay the same when a migration adds a column. A prepared
 * `select *` or `returning *` over a table would then fail with "cached plan must not change
 * result type" in a process started before the migration, so it is never prepared. Only the
 * statement's own result counts (a `*` inside a subquery or a common table expression does not
 * reach it), a star over one of its common table expressions counts as named (Tocsin's name
 * their columns), and so does `* from unnest(...)` of typed arrays; a `*` between two values is
 * a product. What this misses is caught when it happens (see prepareRepeatedStatements).
 */
export function preparable(text: string): boolean {
  const plain = text.replace(countStar, 'count(1)');
  const depth = depths(plain);
  const ctes = new Set([...plain.matchAll(cteName)].map((match) => match[2]!.toLowerCase()));
  for (const match of plain.matchAll(columnStar)) {
    if (depth[match.index] !== 0) continue;
    const qualifier = match[2]?.replaceAll('"', '').toLowerCase();
    if (qualifier !== undefined ? !ctes.has(qualifier) : match[3] === undefined) return false;
  }
  return true;
}

/**
 * A prepared statement's name says what it does, because it is what a trace shows: the pg
 * instrumentation names a query's span after its statement (`pg.query:tocsin_with_notifications_…`
 * rather than `pg.query:tocsin_S6yH65p5…`), and pg_prepared_statements lists it. The first word,
 * the first table written or read, and a hash of the text that keeps names apart (NAMEDATALEN: at
 * most 63 bytes).
 */
export function statementName(text: string): string {
  const verb = /^\s*([a-z]+)/i.exec(text)?.[1]?.toLowerCase() ?? 'query';
  const table = /\b(?:insert\s+into|update|delete\s+from|from)\s+"?([a-z_][a-z0-9_]*)(?:"?\."?([a-z_][a-z0-9_]*))?/i.exec(text);
  const what = table ? (table[2] ?? table[1]!).toLowerCase().slice(0, 24) : undefined;
  return `tocsin_${verb.slice(0, 8)}${what ? `_${what}` : ''}_${createHash('sha256').update(text).digest('base64url').slice(0, 16)}`;
}

/**
 * Server-side prepared statements for the statements this process runs again and again, as
 * pgjdbc does with its prepareThreshold: the fifth time a statement's text is sent with
 * parameters it gets a name, and from then on each connection parses and plans it once and only
 * binds and executes it after that. PostgreSQL's planner picks between a plan for the values at
 * hand and one generic plan as it does for any prepared statement (plan_cache_mode). The names
 * are bounded (`maxStatements` texts per process), so a statement built with a varying number of
 * placeholders cannot grow each connection's cache without end: each prepared statement holds its
 * parse tree and plans in the memory of every backend that ran it (POST /v1/incidents' statement:
 * about 80 KB, pg_log_backend_memory_contexts), so the bound caps what PostgreSQL may spend on
 * them per connection (100 such: 8 MB).
 *
 * POST /v1/incidents spent about a quarter of its PostgreSQL time parsing, analysing and planning
 * its one statement (perf, 32 connections).
 *
 * Poolers: PgBouncer 1.21+ with max_prepared_statements > 0 carries named statements across its
 * server connections; an older one in transaction mode does not, so DATABASE_PREPARED_STATEMENTS
 * switches this off.
 */
export function prepareRepeatedStatements(pool: pg.Pool, options: { threshold?: number; maxStatements?: number } = {}): void {
  const threshold = options.threshold ?? 5;
  const maxStatements = options.maxStatements ?? 100;
  const uses = new Map<string, number>();
  const names = new Map<string, string>();
  const refused = new Set<string>();

  const nameFor = (text: string): string | undefined => {
    const known = names.get(text);
    if (known !== undefined || names.size >= maxStatements || refused.has(text)) return known;
    const count = (uses.get(text) ?? 0) + 1;
    if (count < threshold) {
      if (uses.size >= 10_000) uses.clear();
      uses.set(text, count);
      return undefined;
    }
    uses.delete(text);
    if (!preparable(text)) {
      if (refused.size >= 10_000) refused.clear();
      refused.add(text);
      return undefined;
    }
    const name = statementName(text);
    names.set(text, name);
    return name;
  };

  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    // Kysely sends every statement as query(text, values); anything else passes through.
    (client as { query: unknown }).query = (...args: unknown[]) => {
      const [text, values] = args;
      if (args.length === 2 && typeof text === 'string' && Array.isArray(values) && values.length > 0) {
        const name = nameFor(text);
        if (name !== undefined) {
          return (query({ name, text, values }) as Promise<unknown>).catch((error: unknown) => {
            // A shape preparable() did not foresee: from now on the statement is sent unnamed (the
            // stale one stays unused on its connections). This run fails, as any statement whose
            // table changed under it in the middle of a deployment may.
            if ((error as { code?: string }).code === '0A000' && /cached plan must not change result type/.test(String((error as Error).message))) {
              names.delete(text);
              refused.add(text);
            }
            throw error;
          });
        }
      }
      return query(...args);
    };
  });
}

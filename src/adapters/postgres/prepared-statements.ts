import { createHash } from 'node:crypto';
import type pg from 'pg';

/** Statements that name their columns: `count(*)` aside, no `*` (see preparable). */
const star = /\*/;
const countStar = /count\(\*\)/gi;

/**
 * A statement whose result columns are all named keeps its shape when a migration adds a column;
 * a prepared `select *` or `returning *` would then fail with "cached plan must not change result
 * type" in a process started before the migration. Those are never prepared.
 */
const preparable = (text: string) => !star.test(text.replace(countStar, ''));

/**
 * Server-side prepared statements for the statements this process runs again and again, as
 * pgjdbc does with its prepareThreshold: the third time a statement's text is sent with
 * parameters it gets a name, and from then on each connection parses and plans it once and only
 * binds and executes it after that. PostgreSQL's planner picks between a plan for the values at
 * hand and one generic plan as it does for any prepared statement (plan_cache_mode). The names
 * are bounded (`maxStatements` texts per process), so a statement built with a varying number of
 * placeholders cannot grow each connection's cache without end.
 *
 * POST /v1/incidents spent about a quarter of its PostgreSQL time parsing, analysing and planning
 * its one statement (perf, 32 connections).
 *
 * Poolers: PgBouncer 1.21+ with max_prepared_statements > 0 carries named statements across its
 * server connections; an older one in transaction mode does not, so DATABASE_PREPARED_STATEMENTS
 * switches this off.
 */
export function prepareRepeatedStatements(pool: pg.Pool, options: { threshold?: number; maxStatements?: number } = {}): void {
  const threshold = options.threshold ?? 3;
  const maxStatements = options.maxStatements ?? 200;
  const uses = new Map<string, number>();
  const names = new Map<string, string>();

  const nameFor = (text: string): string | undefined => {
    const known = names.get(text);
    if (known !== undefined || names.size >= maxStatements) return known;
    const count = (uses.get(text) ?? 0) + 1;
    if (count < threshold) {
      if (uses.size >= 10_000) uses.clear();
      uses.set(text, count);
      return undefined;
    }
    uses.delete(text);
    if (!preparable(text)) return undefined;
    const name = `tocsin_${createHash('sha256').update(text).digest('base64url').slice(0, 24)}`;
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
        if (name !== undefined) return query({ name, text, values });
      }
      return query(...args);
    };
  });
}

// EXPLAIN what a store really runs: a database handle that captures the queries kysely sends, and
// a planner that EXPLAINs the first query of a call with its parameters written in as literals.
import { sql, Kysely, PostgresDialect, type CompiledQuery } from 'kysely';
import { makePool } from '../../src/adapters/postgres/database.ts';
import type { DB } from '../../src/adapters/postgres/schema.ts';

export interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)];

/** The query with its parameters written in as literals, so EXPLAIN plans what the store runs. */
function inline(query: CompiledQuery): string {
  return query.sql.replace(/\$(\d+)/g, (_, n: string) => {
    const value = query.parameters[Number(n) - 1];
    if (value instanceof Date) return `'${value.toISOString()}'::timestamptz`;
    if (typeof value === 'number') return String(value);
    return `'${String(value).replaceAll("'", "''")}'`;
  });
}

/** A handle on the database at `url`, and `planOf(run)`: the plan's nodes of run's first query. */
export function queryPlanner(url: string) {
  let captured: CompiledQuery[] = [];
  const db = new Kysely<DB>({
    dialect: new PostgresDialect({ pool: makePool(url, 2) }),
    log: (event) => {
      if (event.level === 'query') captured.push(event.query);
    },
  });
  async function planOf(run: () => Promise<unknown>): Promise<PlanNode[]> {
    captured = [];
    await run();
    const { rows } = await sql<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>`explain (format json) ${sql.raw(inline(captured[0]!))}`.execute(db);
    return nodes(rows[0]!['QUERY PLAN'][0].Plan);
  }
  return { db, planOf };
}

/** One line naming each node, its index and its table: the message of a failed plan assertion. */
export function describePlan(plan: PlanNode[]): string {
  return plan.map((n) => `${n['Node Type']}${n['Index Name'] ? ` using ${n['Index Name']}` : ''}${n['Relation Name'] ? ` on ${n['Relation Name']}` : ''}`).join(' / ');
}

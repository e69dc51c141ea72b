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

const literal = (value: unknown): string => {
  if (value instanceof Date) return `'${value.toISOString()}'::timestamptz`;
  if (typeof value === 'number') return String(value);
  return `'${String(value).replaceAll("'", "''")}'`;
};

/** The query with its parameters written in as literals, so EXPLAIN plans what the store runs. */
function inline(query: CompiledQuery): string {
  return query.sql.replace(/\$(\d+)/g, (_, n: string) => literal(query.parameters[Number(n) - 1]));
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
  /**
   * The generic plan of run's first query, prepared as the service prepares a statement it runs
   * again and again (prepared-statements.ts): the plan PostgreSQL may settle on for every value of
   * its parameters, which knows nothing of them.
   */
  async function genericPlanOf(run: () => Promise<unknown>): Promise<PlanNode[]> {
    captured = [];
    await run();
    const query = captured[0]!;
    return db.connection().execute(async (connection) => {
      await sql`set plan_cache_mode = force_generic_plan`.execute(connection);
      await sql`prepare generic_plan_probe as ${sql.raw(query.sql)}`.execute(connection);
      try {
        const args = query.parameters.map(literal).join(', ');
        const { rows } = await sql<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>`explain (format json) execute generic_plan_probe(${sql.raw(args)})`.execute(connection);
        return nodes(rows[0]!['QUERY PLAN'][0].Plan);
      } finally {
        await sql`deallocate generic_plan_probe`.execute(connection);
        await sql`reset plan_cache_mode`.execute(connection);
      }
    });
  }
  return { db, planOf, genericPlanOf };
}

/** One line naming each node, its index and its table: the message of a failed plan assertion. */
export function describePlan(plan: PlanNode[]): string {
  return plan.map((n) => `${n['Node Type']}${n['Index Name'] ? ` using ${n['Index Name']}` : ''}${n['Relation Name'] ? ` on ${n['Relation Name']}` : ''}`).join(' / ');
}

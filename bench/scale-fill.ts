// Fills a migrated Tocsin database with years of history for the `scale` figures (SPEC section 9):
// `incidents` incidents spread evenly over two years (three timeline entries each; those of the
// last day open or acknowledged in part, the rest resolved; 5% P1, 20% P2, 40% P3, 35% P4; 20 teams), five notifications per incident
// (five channels, 2% failed), one attempt per notification. Set-based: rows made by a SELECT over
// generate_series, ids derived from the row number (md5, so random like gen_random_uuid's) and so
// children need no join.
//
// It loads the way PostgreSQL's manual says to populate a database ("Populating a Database"):
// the secondary indexes of the four tables are dropped and built again afterwards from their own
// definitions (pg_get_indexdef, so whatever the migrations made is exactly what is rebuilt), and
// foreign keys are not checked row by row (session_replication_role = replica; the rows are
// consistent by construction). Inserting 500,000 notifications into their eight indexes took 28 s
// on the bench machine; building the indexes once is several times faster.
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';

const tables = ['incidents', 'incident_events', 'notifications', 'notification_attempts'];

export interface FillResult {
  incidents: number;
  timeline_entries: number;
  notifications: number;
  attempts: number;
  seconds: number;
  steps: Record<string, number>;
}

/** `only` fills just those tables (the others stay empty; for looking at one table's plans). */
export async function fillScale(dbUrl: string, incidents: number, log: (line: string) => void = () => {}, only?: string[]): Promise<FillResult> {
  const started = performance.now();
  const steps: Record<string, number> = {};
  const step = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const at = performance.now();
    const value = await work();
    steps[name] = +((performance.now() - at) / 1000).toFixed(1);
    log(`scale fill: ${name} ${steps[name]} s`);
    return value;
  };
  const connect = async () => {
    const client = new pg.Client({ connectionString: dbUrl });
    await client.connect();
    await client.query(`set session_replication_role = replica; set synchronous_commit = off; set maintenance_work_mem = '256MB'`);
    return client;
  };
  const db = await connect();
  try {
    // Every index of the four tables, primary keys included, and every foreign key that touches
    // them, as their own definitions say; dropped now, made again once the rows are in.
    const { rows: constraints } = await db.query<{ name: string; table: string; definition: string; type: string }>(
      `select conname as name, conrelid::regclass::text as table, pg_get_constraintdef(oid) as definition, contype as type
       from pg_constraint
       where contype in ('p', 'f') and (conrelid = any($1::regclass[]) or confrelid = any($1::regclass[]))`,
      [tables],
    );
    const { rows: indexes } = await db.query<{ name: string; definition: string }>(
      `select indexrelid::regclass::text as name, pg_get_indexdef(indexrelid) as definition
       from pg_index where indrelid = any($1::regclass[]) and not indisprimary`,
      [tables],
    );
    const foreignKeys = constraints.filter((c) => c.type === 'f');
    const primaryKeys = constraints.filter((c) => c.type === 'p');
    for (const c of [...foreignKeys, ...primaryKeys]) await db.query(`alter table ${c.table} drop constraint ${c.name}`);
    await db.query(`drop index ${indexes.map((i) => i.name).join(', ')}`);
    const n = incidents;
    // Independent pseudo-random picks per incident (service, symptom, host, team, severity), so no
    // two filters are correlated by construction.
    const hash = (i: string, seed: number, modulo: number) => `(abs(hashint8extended(${i}, ${seed})) % ${modulo})`;
    // Incident i (1..n) was opened at now() - (n - i) * (730 days / n): the newest is i = n.
    const openedAt = (i: string) => `now() - (${n} - (${i})) * (interval '730 days' / ${n})`;
    // The four tables are independent while foreign keys are not checked: two at a time (two cores).
    const fills: Record<string, { columns: string; rows: string }> = {
      incidents: {
        columns: `id, title, description, severity, status, team_id, source, dedup_key, created_by, notification_status,
                  version, created_at, updated_at, acknowledged_at, resolved_at`,
        rows: `
        select md5('i' || i)::uuid,
               (array['checkout','payments','search','login','api-gateway','billing','inventory','shipping','reports','mobile-push'])[1 + ${hash('i', 3, 10)}]
                 || ' ' || (array['latency high','error rate above 5%','disk full','cpu saturated','memory pressure','5xx spike',
                                  'certificate expiring','queue backlog','replication lag','pod crashloop','dns failures','slow queries'])[1 + ${hash('i', 4, 12)}]
                 || ' on host-' || ${hash('i', 5, 5000)},
               'Alert from ' || (array['prometheus','datadog','grafana','cloudwatch'])[1 + i % 4] || ' in region '
                 || (array['eu-west-1','eu-central-1','us-east-1','us-west-2','ap-south-1','sa-east-1'])[1 + i % 6] || ', runbook step ' || i % 97,
               case when ${hash('i', 1, 100)} < 5 then 'P1' when ${hash('i', 1, 100)} < 25 then 'P2' when ${hash('i', 1, 100)} < 65 then 'P3' else 'P4' end,
               case when t.at > now() - interval '1 day' then (array['open','open','acknowledged','resolved','resolved'])[1 + i % 5] else 'resolved' end,
               md5('team' || ${hash('i', 2, 20)})::uuid, (array['api','events_v2','alertmanager'])[1 + i % 3], 'dedup-' || i, 'bench', 'sent', 3,
               t.at, t.at + interval '20 minutes', t.at + interval '5 minutes',
               case when t.at > now() - interval '1 day' then null else t.at + interval '20 minutes' end
        from generate_series(1, ${n}) as i, lateral (select ${openedAt('i')} as at) t`,
      },
      incident_events: {
        columns: 'incident_id, type, actor, data, created_at',
        rows: `
        select md5('i' || i)::uuid, e.type, e.actor, e.data, ${openedAt('i')} + e.after
        from generate_series(1, ${n}) as i,
             (values ('incident.created', 'api_key:bench', '{"source":"api"}'::jsonb, interval '0'),
                     ('escalation.paged', 'tocsin', '{"level":0,"round":0,"user_ids":[]}'::jsonb, interval '1 second'),
                     ('incident.resolved', 'api_key:bench', '{"note":"fixed"}'::jsonb, interval '20 minutes')) as e(type, actor, data, after)`,
      },
      notifications: {
        columns: `id, channel, recipient, user_id, subject, content, priority, status, max_retries, retry_count, attempt_count,
                  incident_id, metadata, sent_at, created_at, updated_at`,
        rows: `
        select md5('n' || j)::uuid, c.channel, c.channel || '-recipient-' || j % 500, md5('u' || j % 500)::uuid, 'P2 incident',
               'You are paged for incident ' || (j - 1) / 5 + 1, 'high', case when j % 50 = 0 then 'failed' else 'sent' end, 5,
               case when j % 50 = 0 then 5 else 0 end, 1, md5('i' || ((j - 1) / 5 + 1))::uuid, '{}',
               case when j % 50 = 0 then null else c.at + interval '2 seconds' end, c.at, c.at + interval '2 seconds'
        from generate_series(1, ${n * 5}) as j,
             lateral (select (array['webhook','email','sms','push','slack'])[1 + j % 5] as channel, ${openedAt('(j - 1) / 5 + 1')} + interval '1 second' as at) c`,
      },
      notification_attempts: {
        columns: 'notification_id, attempt, at, outcome, status_code, error, duration_ms',
        rows: `
        select md5('n' || j)::uuid, 1, ${openedAt('(j - 1) / 5 + 1')} + interval '2 seconds',
               case when j % 50 = 0 then 'failed' else 'sent' end, case when j % 50 = 0 then 500 else 200 end,
               case when j % 50 = 0 then 'HTTP 500: internal error' end, 40 + j % 200
        from generate_series(1, ${n * 5}) as j`,
      },
    };
    const other = await connect();
    // COPY, not INSERT ... SELECT: PostgreSQL makes the rows (COPY (SELECT ...) TO STDOUT on one
    // connection) and takes them back in (COPY ... FROM STDIN on another), which inserts them
    // in multi-row batches: 500,000 notifications in 4.9 s instead of 8.9 s.
    const copy = async (table: string, into: pg.Client) => {
      if (only && !only.includes(table)) return;
      const source = await connect();
      try {
        const fill = fills[table]!;
        await pipeline(source.query(copyTo(`copy (${fill.rows}) to stdout`)), into.query(copyFrom(`copy ${table} (${fill.columns}) from stdin`)));
      } finally {
        await source.end();
      }
    };
    try {
      await step('rows', () =>
        Promise.all([
          (async () => {
            await step('notifications', () => copy('notifications', db));
            await step('incidents', () => copy('incidents', db));
          })(),
          (async () => {
            await step('notification_attempts', () => copy('notification_attempts', other));
            await step('incident_events', () => copy('incident_events', other));
          })(),
        ]),
      );
      // Primary keys, then the other indexes, then the foreign keys (checked once, as a join), two
      // statements at a time.
      const inTurn = (statements: string[]) =>
        Promise.all([db, other].map(async (client) => {
          for (let next = statements.shift(); next; next = statements.shift()) await client.query(next);
        }));
      await step('primary keys', () => inTurn(primaryKeys.map((c) => `alter table ${c.table} add constraint ${c.name} ${c.definition}`)));
      await step('indexes', () => inTurn(indexes.map((i) => i.definition)));
      await db.query('reset session_replication_role');
      await step('foreign keys', () => inTurn(foreignKeys.map((c) => `alter table ${c.table} add constraint ${c.name} ${c.definition}`)));
      // VACUUM sets the visibility map (index-only scans, no hint-bit writes on the first reads), ANALYZE the statistics.
      await step('vacuum analyze', () => Promise.all([
        db.query('vacuum analyze notifications, incidents'),
        other.query('vacuum analyze notification_attempts, incident_events'),
      ]));
    } finally {
      await other.end();
    }
  } finally {
    await db.end();
  }
  return { incidents, timeline_entries: incidents * 3, notifications: incidents * 5, attempts: incidents * 5, seconds: +((performance.now() - started) / 1000).toFixed(1), steps };
}

// `node bench/scale-fill.ts <database url> <incidents> [table,table]`: fills a migrated database by itself.
if (import.meta.main) {
  const result = await fillScale(process.argv[2]!, Number(process.argv[3] ?? 100_000), (line) => process.stderr.write(`${line}\n`), process.argv[4]?.split(','));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

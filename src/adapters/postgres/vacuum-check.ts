import { sql } from 'kysely';
import type { Executor } from './database.ts';

/**
 * The tables whose rows Tocsin updates or deletes all the time: each delivery moves a notification
 * through two states and its queue job through three, every second of traffic writes a rate-limit
 * window, and the maintenance job deletes what expired. Without vacuum their dead rows stay, their
 * tables and indexes only grow, and the planner's statistics go stale, so every write to them
 * gets slower. PostgreSQL's default is autovacuum on; some servers are set up with it off (this
 * project's benchmark machines are, and the bench vacuums between its phases itself).
 */
const busyTables = [
  'public.notifications',
  'public.notification_attempts',
  'public.incidents',
  'public.incident_escalations',
  'public.changes',
  'public.channel_rate_windows',
  'public.rate_limit_hits',
  'public.idempotency_keys',
  'pgboss.job_common',
  'pgboss.queue',
];

export interface VacuumSettings {
  /** The server's `autovacuum` setting. */
  server: boolean;
  /** Busy tables whose `autovacuum_enabled` storage parameter is off. */
  tablesOff: string[];
}

/** What autovacuum does for Tocsin's busy tables on this database. */
export async function vacuumSettings(db: Executor): Promise<VacuumSettings> {
  const { rows } = await sql<{ server: string; tables_off: string[] }>`
    select current_setting('autovacuum') as server,
           array(
             select c.oid::regclass::text
             from unnest(${busyTables}::text[]) as t
             join pg_class c on c.oid = to_regclass(t)
             where exists (select 1 from unnest(c.reloptions) as o where lower(o) in ('autovacuum_enabled=false', 'autovacuum_enabled=off', 'autovacuum_enabled=0', 'autovacuum_enabled=no'))
             order by 1
           ) as tables_off`.execute(db);
  const row = rows[0]!;
  return { server: row.server === 'on', tablesOff: row.tables_off };
}

/** The warning an operator should read, or undefined when autovacuum looks after every busy table. */
export function vacuumWarning(settings: VacuumSettings): string | undefined {
  if (!settings.server) {
    return (
      "PostgreSQL's autovacuum is off on this server: the rows Tocsin updates on every delivery (notifications, " +
      'queue jobs, rate-limit windows) leave dead rows behind that nothing removes, and every write gets slower. ' +
      'Turn it on (autovacuum = on, then SELECT pg_reload_conf()), or run VACUUM ANALYZE on this database regularly.'
    );
  }
  if (settings.tablesOff.length > 0) {
    return (
      `Autovacuum is off for ${settings.tablesOff.join(', ')} (the autovacuum_enabled storage parameter): Tocsin updates ` +
      'their rows all the time, and their dead rows will pile up. Turn it back on with ALTER TABLE ... RESET (autovacuum_enabled).'
    );
  }
  return undefined;
}

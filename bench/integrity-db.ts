// The integrity run's view of the database (bench/integrity-run.ts): read-only queries.
import pg from 'pg';

export async function connect(url: string) {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  const db = {
    /** Notifications not yet ended, and those of them (and escalation steps) with no live pg-boss job. */
    async state() {
      const { rows } = await client.query<{ pending: string; pending_normal: string; without_live_job: string; steps_without_live_job: string }>(`
        select
          (select count(*) from notifications where status in ('scheduled', 'queued', 'sending')) as pending,
          (select count(*) from notifications where status in ('scheduled', 'queued', 'sending') and recipient like '%/hook') as pending_normal,
          (select count(*) from notifications n
            where n.status in ('scheduled', 'queued', 'sending')
              and not exists (select 1 from pgboss.job j where j.name = 'notify-' || n.channel and j.id = n.job_id and j.state <= 'active')) as without_live_job,
          (select count(*) from incident_escalations e
            where e.status = 'scheduled'
              and not exists (select 1 from pgboss.job j where j.name = 'escalate' and j.id = e.job_id and j.state <= 'active')) as steps_without_live_job`);
      const row = rows[0]!;
      return { pending: Number(row.pending), pending_normal: Number(row.pending_normal), without_live_job: Number(row.without_live_job), steps_without_live_job: Number(row.steps_without_live_job) };
    },
    /**
     * Notifications as a lost job leaves them: queued, their job_id naming a job that does not
     * exist (a crash between two writes, a job deleted by retention). Only the sweep can find them.
     */
    async strand(count: number, recipient: string): Promise<string[]> {
      const { rows } = await client.query<{ id: string }>(
        `insert into notifications (channel, recipient, content, status, max_retries, job_id)
         select 'webhook', $1, 'stranded ' || i, 'queued', 2, gen_random_uuid() from generate_series(1, $2) as i
         returning id`,
        [recipient, count],
      );
      return rows.map((r) => r.id);
    },
    async figures() {
      const statuses = await client.query<{ status: string; n: string }>('select status, count(*) as n from notifications group by status');
      const byStatus = Object.fromEntries(statuses.rows.map((r) => [r.status, Number(r.n)]));
      const attempts = await client.query<{ id: string; status: string; attempts: number[] | null }>(`
        select n.id, n.status, array_agg(a.attempt order by a.attempt) filter (where a.attempt is not null) as attempts
        from notifications n left join notification_attempts a on a.notification_id = n.id group by n.id, n.status`);
      return {
        byStatus,
        stranded: (byStatus.scheduled ?? 0) + (byStatus.queued ?? 0) + (byStatus.sending ?? 0),
        notifications: new Map(attempts.rows.map((r) => [r.id, { status: r.status, attempts: r.attempts ?? [] }])),
      };
    },
  };
  return { db, close: () => client.end() };
}

export type Figures = Awaited<ReturnType<Awaited<ReturnType<typeof connect>>['db']['figures']>>;

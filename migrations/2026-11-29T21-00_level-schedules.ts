// Frozen in time: this file never imports application code. SPEC section 5 (issue 15): an
// escalation level names users, on-call schedules, or both.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // Who is on call is looked up when the level is paged, so a level keeps only the schedules'
  // ids. A schedule a level names cannot be deleted (restrict): the API answers 409 and names
  // the policies, rather than leaving a level that silently pages nobody.
  await sql`
    create table escalation_level_schedules (
      policy_id uuid not null,
      level integer not null,
      position integer not null,
      schedule_id uuid not null references schedules (id) on delete restrict,
      primary key (policy_id, level, position),
      foreign key (policy_id, level) references escalation_levels (policy_id, level) on delete cascade
    )`.execute(db);
  await sql`create index escalation_level_schedules_schedule_idx on escalation_level_schedules (schedule_id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table escalation_level_schedules`.execute(db);
}

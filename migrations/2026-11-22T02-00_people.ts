// Frozen in time: this file never imports application code. Later changes come as new files.
// SPEC section 5: templates, users and their contact methods, escalation policies, teams, and
// the bookkeeping that makes each escalation step happen at most once.
import { sql, type Kysely } from 'kysely';

const channelCheck = sql.raw(`in ('email', 'sms', 'push', 'webhook', 'slack')`);

// The templates a new install pages people with (issue 4), one per channel for each moment of
// an incident's life. They are ordinary version 1 rows: POST /v1/templates adds version 2 to
// change one. Email bodies are HTML (variables are escaped); the others are plain text.
const defaults: { slug: string; channel: string; subject: string | null; body: string }[] = [
  {
    slug: 'incident.page',
    channel: 'email',
    subject: '[{{incident.severity}}] {{incident.title}}',
    body: [
      '<p><strong>{{incident.severity}} incident: {{incident.title}}</strong></p>',
      '{{#if incident.description}}<p>{{incident.description}}</p>{{/if}}',
      '<p>{{user.name}}, you are paged at escalation level {{escalation.level}}{{#if team}} of {{team.name}}{{/if}}.',
      'Acknowledge the incident to stop the escalation.</p>',
      '<p>Incident {{incident.id}}, opened at {{incident.created_at}} by {{incident.source}}.</p>',
    ].join('\n'),
  },
  {
    slug: 'incident.page',
    channel: 'sms',
    subject: null,
    body: '[Tocsin] {{incident.severity}} {{incident.title}}: you are paged (level {{escalation.level}}). Incident {{incident.id}}',
  },
  {
    slug: 'incident.page',
    channel: 'push',
    subject: '{{incident.severity}}: {{incident.title}}',
    body: 'You are paged at escalation level {{escalation.level}}. Acknowledge to stop the escalation.',
  },
  {
    slug: 'incident.page',
    channel: 'slack',
    subject: null,
    body: ':rotating_light: *{{incident.severity}} {{incident.title}}*\n{{user.name}}, you are paged at escalation level {{escalation.level}}. Incident `{{incident.id}}`',
  },
  {
    slug: 'incident.page',
    channel: 'webhook',
    subject: '{{incident.severity}} {{incident.title}}',
    body: '{{user.name}} is paged at escalation level {{escalation.level}} for incident {{incident.id}}.',
  },
  ...(['acknowledged', 'resolved'] as const).flatMap((outcome) => {
    const line = `{{actor}} ${outcome} {{incident.severity}} {{incident.title}}{{#if note}}: {{note}}{{/if}}`;
    return [
      {
        slug: `incident.${outcome}`,
        channel: 'email',
        subject: `[{{incident.severity}}] ${outcome[0]!.toUpperCase()}${outcome.slice(1)}: {{incident.title}}`,
        body: `<p>${line}</p>\n<p>Incident {{incident.id}}. You were paged for it, so you are told.</p>`,
      },
      { slug: `incident.${outcome}`, channel: 'sms', subject: null, body: `[Tocsin] ${line}` },
      { slug: `incident.${outcome}`, channel: 'push', subject: `${outcome[0]!.toUpperCase()}${outcome.slice(1)}: {{incident.title}}`, body: line },
      { slug: `incident.${outcome}`, channel: 'slack', subject: null, body: `:white_check_mark: ${line}` },
      { slug: `incident.${outcome}`, channel: 'webhook', subject: `${outcome[0]!.toUpperCase()}${outcome.slice(1)}: {{incident.title}}`, body: line },
    ];
  }),
];

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table templates (
      id uuid primary key default gen_random_uuid(),
      slug text not null check (slug ~ '^[a-z0-9][a-z0-9._-]{0,99}$'),
      channel text not null check (channel ${channelCheck}),
      locale text not null,
      version integer not null check (version >= 1),
      subject text,
      body text not null,
      created_by text not null,
      created_at timestamptz(3) not null default now(),
      unique (slug, channel, locale, version)
    )`.execute(db);
  for (const t of defaults) {
    await sql`
      insert into templates (slug, channel, locale, version, subject, body, created_by)
      values (${t.slug}, ${t.channel}, 'en', 1, ${t.subject}, ${t.body}, 'tocsin')`.execute(db);
  }

  await sql`
    create table users (
      id uuid primary key default gen_random_uuid(),
      name text not null,
      email text not null,
      phone text,
      locale text not null default 'en',
      time_zone text not null default 'UTC',
      -- {"channels": {"email": true, ...}, "quiet_hours": {"start": "22:00", "end": "07:00"} | null}
      preferences jsonb not null default '{}',
      version integer not null default 1,
      created_at timestamptz(3) not null default now(),
      updated_at timestamptz(3) not null default now()
    )`.execute(db);
  await sql`create unique index users_email_idx on users (lower(email))`.execute(db);
  await sql`create index users_created_idx on users (created_at desc, id desc)`.execute(db);

  await sql`
    create table contact_methods (
      id uuid primary key default gen_random_uuid(),
      user_id uuid not null references users (id) on delete cascade,
      position integer not null,
      type text not null check (type ${channelCheck}),
      address text not null,
      unique (user_id, position)
    )`.execute(db);

  await sql`
    create table escalation_policies (
      id uuid primary key default gen_random_uuid(),
      name text not null,
      repeat integer not null default 0 check (repeat between 0 and 9),
      created_at timestamptz(3) not null default now(),
      updated_at timestamptz(3) not null default now()
    )`.execute(db);
  await sql`create index escalation_policies_created_idx on escalation_policies (created_at desc, id desc)`.execute(db);
  await sql`
    create table escalation_levels (
      policy_id uuid not null references escalation_policies (id) on delete cascade,
      level integer not null check (level >= 0),
      delay_seconds integer not null check (delay_seconds >= 0),
      primary key (policy_id, level)
    )`.execute(db);
  await sql`
    create table escalation_level_users (
      policy_id uuid not null,
      level integer not null,
      position integer not null,
      user_id uuid not null references users (id),
      primary key (policy_id, level, position),
      foreign key (policy_id, level) references escalation_levels (policy_id, level) on delete cascade
    )`.execute(db);

  await sql`
    create table teams (
      id uuid primary key default gen_random_uuid(),
      name text not null,
      escalation_policy_id uuid references escalation_policies (id),
      created_at timestamptz(3) not null default now(),
      updated_at timestamptz(3) not null default now()
    )`.execute(db);
  await sql`create index teams_created_idx on teams (created_at desc, id desc)`.execute(db);
  await sql`
    create table team_members (
      team_id uuid not null references teams (id) on delete cascade,
      user_id uuid not null references users (id),
      position integer not null,
      primary key (team_id, user_id)
    )`.execute(db);

  // One row per escalation step of an incident: `run` counts (re)starts of paging (a new team
  // starts a new run), `repeat_round` the policy's repeats, `level` its levels. The primary key
  // is what guarantees a step is paged at most once, however many jobs or workers there are:
  // a worker pages a step only while the row is still `scheduled` under the job it carries.
  await sql`
    create table incident_escalations (
      incident_id uuid not null references incidents (id) on delete cascade,
      run integer not null,
      repeat_round integer not null,
      level integer not null,
      policy_id uuid not null references escalation_policies (id),
      status text not null check (status in ('scheduled', 'paged', 'cancelled')),
      due_at timestamptz(3) not null,
      paged_at timestamptz(3),
      job_id uuid,
      created_at timestamptz(3) not null default now(),
      primary key (incident_id, run, repeat_round, level)
    )`.execute(db);
  await sql`create index incident_escalations_scheduled_idx on incident_escalations (incident_id) where status = 'scheduled'`.execute(db);

  // A notification rendered from an email template carries HTML; everything else is plain text.
  await sql`
    alter table notifications
      add column content_type text not null default 'text' check (content_type in ('text', 'html'))`.execute(db);
  await sql`create index notifications_user_idx on notifications (user_id) where user_id is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists notifications_user_idx`.execute(db);
  await sql`alter table notifications drop column if exists content_type`.execute(db);
  for (const table of [
    'incident_escalations', 'team_members', 'teams', 'escalation_level_users', 'escalation_levels',
    'escalation_policies', 'contact_methods', 'users', 'templates',
  ]) {
    await sql`drop table if exists ${sql.table(table)}`.execute(db);
  }
}

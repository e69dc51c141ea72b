-- What a delivery batch's notification.updated change costs PostgreSQL to build, store and read
-- back, as jsonb (before migrations/2026-11-30T08-00_changes-json.ts) and as json (now): 300
-- events of 200 items each. Run it against any scratch database (it makes and drops fc_* tables):
--   psql postgres://postgres@127.0.0.1:5432/test -f bench/feed-payload-cost.sql
-- The three DO blocks time jsonb as built before, json as built now, and json cast to jsonb
-- (which shows the cost is the conversion, not the builder); the two selects time reading back.
\timing on
drop table if exists fc_n, fc_jb, fc_j;
create table fc_n as select gen_random_uuid() as id, 'sending'::text as status, 'webhook'::text as channel, null::uuid as incident_id, 0 as retry_count, now()::timestamptz(3) as updated_at from generate_series(1,200);
create table fc_jb (id bigint generated always as identity primary key, type text, at timestamptz(3) default now(), data jsonb not null);
alter table fc_jb alter column data set compression lz4;
create table fc_j (id bigint generated always as identity primary key, type text, at timestamptz(3) default now(), data json not null);
alter table fc_j alter column data set compression lz4;
-- jsonb, as now
do $$ begin for i in 1..300 loop
insert into fc_jb (type, data) select 'notification.updated', jsonb_build_object('items', jsonb_agg(jsonb_build_object('id', c.id, 'status', c.status, 'channel', c.channel, 'incident_id', c.incident_id, 'retry_count', c.retry_count, 'updated_at', to_char(c.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) order by c.id)) from fc_n c;
end loop; end $$;
-- json built as json
do $$ begin for i in 1..300 loop
insert into fc_j (type, data) select 'notification.updated', json_build_object('items', json_agg(json_build_object('id', c.id, 'status', c.status, 'channel', c.channel, 'incident_id', c.incident_id, 'retry_count', c.retry_count, 'updated_at', to_char(c.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) order by c.id)) from fc_n c;
end loop; end $$;
-- jsonb column, built as json then cast
do $$ begin for i in 1..300 loop
insert into fc_jb (type, data) select 'notification.updated', json_build_object('items', json_agg(json_build_object('id', c.id, 'status', c.status, 'channel', c.channel, 'incident_id', c.incident_id, 'retry_count', c.retry_count, 'updated_at', to_char(c.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) order by c.id))::jsonb from fc_n c;
end loop; end $$;
-- reading back as text (what the API does)
select sum(length(data::text)) from (select data from fc_jb order by id desc limit 300) x;
select sum(length(data::text)) from (select data from fc_j order by id desc limit 300) x;
select pg_column_compression(data), pg_column_size(data) from fc_jb order by id desc limit 1;
drop table fc_n, fc_jb, fc_j;

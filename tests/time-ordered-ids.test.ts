import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../src/app/ids.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

// Rows of the tables that grow for years get time-ordered ids (UUIDv7, RFC 9562), so that an
// insert lands at the right edge of the primary key (src/app/ids.ts; bench/README.md measures it).

const v7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** The milliseconds a UUIDv7 carries in its first 48 bits. */
const timeOf = (id: string) => parseInt(id.replaceAll('-', '').slice(0, 12), 16);

describe('time-ordered ids', () => {
  it('newId makes UUIDv7s that increase in the order they are made, with the time in them', () => {
    const before = Date.now();
    const ids = Array.from({ length: 2000 }, newId);
    for (const id of ids) expect(id).toMatch(v7);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(timeOf(ids[0]!)).toBeGreaterThanOrEqual(before);
    expect(timeOf(ids.at(-1)!)).toBeLessThanOrEqual(Date.now());
  });

  describe('through the API', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp();
    });
    afterAll(async () => {
      await t?.close();
    });

    it('gives incidents, their timeline entries and notifications UUIDv7 ids, later ones greater', async () => {
      const first = (await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'first' } })).json();
      const second = (await t.call({ method: 'POST', url: '/v1/incidents', payload: { title: 'second' } })).json();
      expect(first.id).toMatch(v7);
      expect(second.id > first.id).toBe(true);

      await t.call({ method: 'POST', url: `/v1/incidents/${first.id}/comments`, payload: { body: 'a comment' } });
      const events = (await t.call({ method: 'GET', url: `/v1/incidents/${first.id}/events` })).json().data as { id: string }[];
      expect(events.length).toBe(2);
      for (const event of events) expect(event.id).toMatch(v7);
      // The database's are ordered by the millisecond (random within one).
      expect(timeOf(events[1]!.id)).toBeGreaterThanOrEqual(timeOf(events[0]!.id));

      const notification = await t.call({ method: 'POST', url: '/v1/notifications', payload: { channel: 'webhook', recipient: 'https://example.com/hook', content: 'x' } });
      expect(notification.statusCode).toBe(201);
      expect(notification.json().id).toMatch(v7);
    });

    it('has the database make UUIDv7s too, for rows it gives an id itself', async () => {
      const before = Date.now();
      const { rows } = await sql<{ id: string }>`select tocsin_uuid_v7()::text as id from generate_series(1, 50)`.execute(t.db);
      for (const { id } of rows) {
        expect(id).toMatch(v7);
        expect(timeOf(id)).toBeGreaterThanOrEqual(before - 1000);
        expect(timeOf(id)).toBeLessThanOrEqual(Date.now() + 1000);
      }
      const { rows: defaults } = await sql<{ table_name: string; column_default: string }>`
        select table_name, column_default from information_schema.columns
        where column_name = 'id' and table_name in ('incidents', 'incident_events', 'notifications') order by table_name`.execute(t.db);
      expect(defaults.map((d) => [d.table_name, d.column_default])).toEqual([
        ['incident_events', 'tocsin_uuid_v7()'],
        ['incidents', 'tocsin_uuid_v7()'],
        ['notifications', 'tocsin_uuid_v7()'],
      ]);
    });
  });
});

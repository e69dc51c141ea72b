import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { filterKey, narrowEvent, parseStreamFilter, StreamFilterError, streamEventTypes } from '../src/domain/stream-filter.ts';

// SPEC section 7: the stream filters, as pure rules.

const ids = ['0a0a0a0a-0000-4000-8000-00000000000a', '0b0b0b0b-0000-4000-8000-00000000000b', '0c0c0c0c-0000-4000-8000-00000000000c'];
const incidentId = fc.constantFrom(...ids, null);
const item = fc.record({ id: fc.uuid(), incident_id: incidentId, status: fc.constantFrom('queued', 'sent') });
const event = fc.oneof(
  fc.record({ type: fc.constantFrom('incident.created', 'incident.updated', 'incident.deleted'), data: fc.record({ id: fc.constantFrom(...ids) }) }),
  fc.record({ type: fc.constant('notification.updated'), data: item }),
  fc.record({ type: fc.constant('notification.updated'), data: fc.record({ items: fc.array(item, { maxLength: 6 }) }) }),
);

describe('stream filters', () => {
  it('an incident filter passes exactly that incident\'s events, and of a batch only its items', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ids), event, (wanted, { type, data }) => {
        const seen = narrowEvent(parseStreamFilter({ incident_id: wanted }), type, data) as Record<string, unknown> | undefined;
        const record = data as { id?: string; incident_id?: string | null; items?: { incident_id: string | null }[] };
        if (type.startsWith('incident.')) expect(seen).toBe(record.id === wanted ? data : undefined);
        else if (!record.items) expect(seen).toBe(record.incident_id === wanted ? data : undefined);
        else {
          const mine = record.items.filter((i) => i.incident_id === wanted);
          if (mine.length === 0) expect(seen).toBeUndefined();
          else if (mine.length === record.items.length) expect(seen).toBe(data);
          else expect(seen).toEqual({ items: mine });
        }
      }),
    );
  });

  it('no filter passes everything unchanged; a types filter passes only those types', () => {
    fc.assert(
      fc.property(event, fc.subarray([...streamEventTypes], { minLength: 1 }), ({ type, data }, types) => {
        expect(narrowEvent({}, type, data)).toBe(data);
        expect(narrowEvent(parseStreamFilter({ types: types.join(',') }), type, data)).toBe(types.includes(type as never) ? data : undefined);
      }),
    );
  });

  it('refuses unknown types and ids that are not UUIDs, naming the field; equal filters share a key', () => {
    expect(() => parseStreamFilter({ types: 'incident.created,incident.opened' }, 'querystring.')).toThrow(StreamFilterError);
    try {
      parseStreamFilter({ types: ['x'] }, 'message.subscribe.');
    } catch (error) {
      expect((error as StreamFilterError).field).toBe('message.subscribe.types');
    }
    expect(() => parseStreamFilter({ incident_id: '42' })).toThrow(/incident_id must be a UUID/);
    expect(parseStreamFilter({ types: ' , ', incident_id: null })).toEqual({});
    expect(filterKey(parseStreamFilter({ types: 'incident.updated,incident.created' }))).toBe(filterKey(parseStreamFilter({ types: ['incident.created', 'incident.updated'] })));
    expect(filterKey(parseStreamFilter({ incident_id: ids[0]!.toUpperCase() }))).toBe(filterKey(parseStreamFilter({ incident_id: ids[0] })));
  });
});

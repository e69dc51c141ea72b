// SPEC section 7: what a stream client asked to see. Pure: the hub (src/adapters/http/stream-hub.ts)
// applies it to every change, the routes parse it from a query string or a WebSocket message.

/** The event types a client can see and filter on. A type outside this list is a typo, refused. */
export const streamEventTypes = ['incident.created', 'incident.updated', 'incident.deleted', 'notification.updated'] as const;
export type StreamEventType = (typeof streamEventTypes)[number];

export interface StreamFilter {
  /** Only these types; undefined for all. */
  types?: ReadonlySet<string>;
  /** Only this incident's `incident.*` events and the `notification.updated` events of its notifications. */
  incidentId?: string;
}

export class StreamFilterError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field} ${message}`);
    this.field = field;
  }
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Builds a filter from what a client sent (`types` as a comma list or an array, `incident_id`);
 * throws StreamFilterError naming the field when something is not understood.
 */
export function parseStreamFilter(input: { types?: string | readonly string[] | undefined; incident_id?: string | null | undefined }, prefix = ''): StreamFilter {
  const filter: StreamFilter = {};
  if (input.types !== undefined) {
    const list = (typeof input.types === 'string' ? input.types.split(',') : input.types).map((type) => type.trim()).filter(Boolean);
    const unknown = list.filter((type) => !(streamEventTypes as readonly string[]).includes(type));
    if (unknown.length > 0) throw new StreamFilterError(`${prefix}types`, `names unknown event types (${unknown.join(', ')}); known: ${streamEventTypes.join(', ')}`);
    if (list.length > 0) filter.types = new Set(list);
  }
  if (input.incident_id !== undefined && input.incident_id !== null) {
    if (!uuid.test(input.incident_id)) throw new StreamFilterError(`${prefix}incident_id`, 'must be a UUID');
    filter.incidentId = input.incident_id.toLowerCase();
  }
  return filter;
}

/** One key per distinct filter, so that clients with the same filter share one serialization. */
export function filterKey(filter: StreamFilter): string {
  return `${filter.types ? [...filter.types].sort().join(',') : '*'}|${filter.incidentId ?? '*'}`;
}

type Item = { incident_id?: unknown };

/**
 * What of an event's data a client with this filter sees: the data itself, a narrower copy (the
 * items of a delivery batch that belong to the incident), or undefined when it sees nothing.
 */
export function narrowEvent(filter: StreamFilter, type: string, data: unknown): unknown {
  if (filter.types && !filter.types.has(type)) return undefined;
  const incidentId = filter.incidentId;
  if (incidentId === undefined) return data;
  const record = (data ?? {}) as { id?: unknown; incident_id?: unknown; items?: unknown };
  if (type.startsWith('incident.')) return sameId(record.id, incidentId) ? data : undefined;
  if (type !== 'notification.updated') return undefined;
  if (Array.isArray(record.items)) {
    const items = (record.items as Item[]).filter((item) => sameId(item?.incident_id, incidentId));
    if (items.length === 0) return undefined;
    return items.length === record.items.length ? data : { ...record, items };
  }
  return sameId(record.incident_id, incidentId) ? data : undefined;
}

const sameId = (value: unknown, id: string) => typeof value === 'string' && value.toLowerCase() === id;

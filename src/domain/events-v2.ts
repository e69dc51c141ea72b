import type { AlertAction } from './alert.ts';
import { toTitle } from './alert.ts';
import type { Severity } from './incident.ts';

// The PagerDuty Events API v2 (SPEC section 6): POST /v2/enqueue takes the same body and answers
// the same way, so any tool that can page PagerDuty can page Tocsin. Reading the event is done by
// hand rather than by the route's JSON schema, because a sender expects PagerDuty's own 400 body
// ({"status":"invalid event","message":"Event object is invalid","errors":[...]}), one sentence per
// problem, not Tocsin's usual error shape.

export const eventActions = ['trigger', 'acknowledge', 'resolve'] as const;
export type EventAction = (typeof eventActions)[number];

export const pdSeverities = ['critical', 'error', 'warning', 'info'] as const;
export type PdSeverity = (typeof pdSeverities)[number];

/** SPEC section 6: critical→P1, error→P2, warning→P3, info→P4. */
export const severityOf: Record<PdSeverity, Severity> = { critical: 'P1', error: 'P2', warning: 'P3', info: 'P4' };

export interface PdLink {
  href: string;
  text?: string;
}

export interface PdImage {
  src: string;
  href?: string;
  alt?: string;
}

export interface PdPayload {
  summary: string;
  source: string;
  severity: PdSeverity;
  timestamp?: string;
  component?: string;
  group?: string;
  class?: string;
  custom_details?: unknown;
}

export interface PdEvent {
  routing_key: string;
  event_action: EventAction;
  dedup_key?: string;
  /** Required for trigger; acknowledge and resolve may carry one, which is kept but not checked. */
  payload?: PdPayload | Record<string, unknown>;
  links: PdLink[];
  images: PdImage[];
  client?: string;
  client_url?: string;
}

/** PagerDuty's limit on dedup_key. */
export const MAX_DEDUP_KEY = 255;

export type ParsedEvent = { ok: true; event: PdEvent } | { ok: false; errors: string[] };

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isBlank = (value: unknown): boolean => typeof value !== 'string' || value.trim().length === 0;

/**
 * Reads a request body as an Events v2 event, collecting every problem at once. Unknown fields
 * are ignored, as PagerDuty does (senders such as Alertmanager add their own). Empty strings in
 * optional fields count as absent: Alertmanager sends `"alt":""` for an image without one.
 */
export function parseEvent(body: unknown): ParsedEvent {
  if (!isObject(body)) return { ok: false, errors: ['Event object must be a JSON object'] };
  const errors: string[] = [];

  const routingKey = body.routing_key;
  if (isBlank(routingKey)) errors.push("'routing_key' is missing or blank");

  const action = body.event_action;
  if (isBlank(action)) errors.push("'event_action' is missing or blank");
  else if (!eventActions.includes(action as EventAction)) {
    errors.push(`'event_action' is invalid (must be one of ${eventActions.join(', ')})`);
  }

  let dedupKey: string | undefined;
  const givenKey = body.dedup_key;
  if (givenKey !== undefined && givenKey !== null && typeof givenKey !== 'string') errors.push("'dedup_key' must be a string");
  else if (typeof givenKey === 'string' && Array.from(givenKey).length > MAX_DEDUP_KEY) {
    errors.push(`'dedup_key' is too long (at most ${MAX_DEDUP_KEY} characters)`);
  } else if (typeof givenKey === 'string' && givenKey.length > 0) dedupKey = givenKey;
  else if (action === 'acknowledge' || action === 'resolve') {
    errors.push(`'dedup_key' is missing or blank (it is required to ${action})`);
  }

  let payload: PdEvent['payload'];
  if (action === 'trigger') {
    if (!isObject(body.payload)) errors.push("'payload' is missing or is not an object");
    else {
      const p = body.payload;
      if (isBlank(p.summary)) errors.push("'payload.summary' is missing or blank");
      if (isBlank(p.source)) errors.push("'payload.source' is missing or blank");
      if (isBlank(p.severity)) errors.push("'payload.severity' is missing or blank");
      else if (!pdSeverities.includes(p.severity as PdSeverity)) {
        errors.push(`'payload.severity' is invalid (must be one of ${pdSeverities.join(', ')})`);
      }
      if (p.timestamp !== undefined && p.timestamp !== null && p.timestamp !== '') {
        if (typeof p.timestamp !== 'string' || Number.isNaN(Date.parse(p.timestamp))) {
          errors.push("'payload.timestamp' is invalid (must be an ISO 8601 date-time)");
        }
      }
      for (const field of ['component', 'group', 'class'] as const) {
        if (p[field] !== undefined && p[field] !== null && typeof p[field] !== 'string') errors.push(`'payload.${field}' must be a string`);
      }
      payload = p;
    }
  } else if (isObject(body.payload)) {
    payload = body.payload;
  }

  const links = readList(body.links, 'links', 'href', ['text'], errors) as unknown as PdLink[];
  const images = readList(body.images, 'images', 'src', ['href', 'alt'], errors) as unknown as PdImage[];
  for (const field of ['client', 'client_url'] as const) {
    if (body[field] !== undefined && body[field] !== null && typeof body[field] !== 'string') errors.push(`'${field}' must be a string`);
  }

  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    event: {
      routing_key: routingKey as string,
      event_action: action as EventAction,
      ...(dedupKey === undefined ? {} : { dedup_key: dedupKey }),
      ...(payload === undefined ? {} : { payload }),
      links,
      images,
      ...(typeof body.client === 'string' && body.client !== '' ? { client: body.client } : {}),
      ...(typeof body.client_url === 'string' && body.client_url !== '' ? { client_url: body.client_url } : {}),
    },
  };
}

/** links and images: lists of objects with one required string field and optional string fields. */
function readList(value: unknown, name: string, required: string, optional: string[], errors: string[]): Record<string, string>[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    errors.push(`'${name}' must be a list`);
    return [];
  }
  const items: Record<string, string>[] = [];
  value.forEach((item: unknown, index) => {
    if (!isObject(item) || isBlank(item[required])) {
      errors.push(`'${name}[${index}].${required}' is missing or blank`);
      return;
    }
    const kept: Record<string, string> = { [required]: item[required] as string };
    for (const field of optional) {
      const text = item[field];
      if (text === undefined || text === null || text === '') continue;
      if (typeof text !== 'string') errors.push(`'${name}[${index}].${field}' must be a string`);
      else kept[field] = text;
    }
    items.push(kept);
  });
  return items;
}

/**
 * The event as an AlertAction. `generatedKey` is the dedup_key a trigger without one gets (the
 * caller makes it random); PagerDuty returns such a key so that the sender can resolve later.
 */
export function eventToAction(event: PdEvent, generatedKey: string): AlertAction {
  const dedupKey = event.dedup_key ?? generatedKey;
  const details = eventDetails(event);
  if (event.event_action !== 'trigger') return { kind: event.event_action, dedup_key: dedupKey, details };
  const payload = event.payload as PdPayload;
  const summary = payload.summary.trim();
  const title = toTitle(summary, 'Events v2 alert');
  return {
    kind: 'trigger',
    dedup_key: dedupKey,
    incident: {
      title,
      // The title holds 200 characters and a summary up to 1024: a cut summary is kept whole here.
      description: title === summary ? null : summary,
      severity: severityOf[payload.severity],
    },
    details,
  };
}

/** What is kept on the incident and its timeline: the payload and the event's links and images. */
function eventDetails(event: PdEvent): Record<string, unknown> {
  const details: Record<string, unknown> = { event_action: event.event_action };
  if (event.payload) {
    for (const field of ['summary', 'source', 'severity', 'timestamp', 'component', 'group', 'class', 'custom_details'] as const) {
      const value = (event.payload as Record<string, unknown>)[field];
      if (value !== undefined && value !== null && value !== '') details[field] = value;
    }
  }
  if (event.links.length > 0) details.links = event.links;
  if (event.images.length > 0) details.images = event.images;
  if (event.client) details.client = event.client;
  if (event.client_url) details.client_url = event.client_url;
  return details;
}

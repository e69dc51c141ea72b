// Live updates (SPEC sections 7 and 8) over /v1/ws, authenticated by the session cookie. A lost
// connection shows a banner and is retried with backoff; the new connection asks for every event
// after the last one seen (`since`), so nothing is missed, and screens also reload what they show
// when it opens ("resync"), which covers a gap the server no longer keeps ("reset").
import { signal } from '@preact/signals';

export interface LiveEvent {
  id?: number;
  type: string;
  data?: Record<string, unknown> & { id?: string; incident_id?: string | null; items?: { incident_id?: string | null; id?: string }[] };
}

/** `connecting` before the first answer, `live` while connected, `lost` between a drop and the next connection. */
export const connection = signal<'off' | 'connecting' | 'live' | 'lost'>('off');

const listeners = new Set<(event: LiveEvent) => void>();
let socket: WebSocket | undefined;
let lastId: number | undefined;
let retryMs = 500;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let running = false;

/** Listens to every event (and to `resync`); returns the function that stops listening, for useEffect. */
export function onLive(listener: (event: LiveEvent) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function emit(event: LiveEvent) {
  for (const listener of listeners) listener(event);
}

function connect() {
  const url = new URL('/v1/ws', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  if (lastId !== undefined) url.searchParams.set('since', String(lastId));
  const opened = new WebSocket(url);
  socket = opened;
  opened.onopen = () => {
    connection.value = 'live';
    retryMs = 500;
    emit({ type: 'resync' });
  };
  opened.onmessage = (message) => {
    let event: LiveEvent & { code?: string };
    try {
      event = JSON.parse(String(message.data));
    } catch {
      return;
    }
    if (event.code || event.type === 'subscribed') return;
    if (typeof event.id === 'number') lastId = event.id;
    emit(event.type === 'reset' ? { type: 'resync' } : event);
  };
  opened.onclose = () => {
    if (socket !== opened) return;
    socket = undefined;
    if (!running) return;
    connection.value = 'lost';
    retryTimer = setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 8000);
  };
}

export function startLive() {
  if (running) return;
  running = true;
  connection.value = 'connecting';
  connect();
}

export function stopLive() {
  running = false;
  clearTimeout(retryTimer);
  socket?.close();
  socket = undefined;
  lastId = undefined;
  connection.value = 'off';
}

/** Whether an event concerns one incident (its own changes and its notifications'). */
export function concernsIncident(event: LiveEvent, incidentId: string): boolean {
  if (event.type === 'resync') return true;
  const data = event.data ?? {};
  if (event.type.startsWith('incident.')) return data.id === incidentId;
  if (event.type === 'notification.updated') return data.incident_id === incidentId || (data.items ?? []).some((item) => item.incident_id === incidentId);
  return false;
}

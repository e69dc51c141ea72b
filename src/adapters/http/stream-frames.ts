import type { Change } from '../postgres/change-store.ts';

// SPEC section 7: what travels on a stream. Every event is serialized once however many clients
// receive it (a thousand SSE clients share one Buffer), and once more only for a narrowed copy
// (the items of a delivery batch that belong to one incident).

/** An event `{"id","type","at","data"}` as the streams send it, serialized on first use. */
export class OutgoingEvent {
  readonly id: number;
  readonly type: string;
  readonly at: string;
  readonly data: unknown;
  #json?: string;
  #sse?: Buffer;

  constructor(id: number, type: string, at: string, data: unknown) {
    this.id = id;
    this.type = type;
    this.at = at;
    this.data = data;
  }

  static of(change: Change): OutgoingEvent {
    return new OutgoingEvent(change.id, change.type, change.at.toISOString(), change.data);
  }

  /** The same event with other data (a narrowed delivery batch). */
  with(data: unknown): OutgoingEvent {
    return new OutgoingEvent(this.id, this.type, this.at, data);
  }

  /** The WebSocket message. JSON never holds a raw line break, so it is also one SSE data line. */
  json(): string {
    return (this.#json ??= JSON.stringify({ id: this.id, type: this.type, at: this.at, data: this.data }));
  }

  /** The SSE frame: `id:`, `event:` the type, `data:` the event's JSON (SPEC section 7). */
  sse(): Buffer {
    return (this.#sse ??= Buffer.from(`id: ${this.id}\nevent: ${this.type}\ndata: ${this.json()}\n\n`));
  }

  /** Roughly what it costs to hold it for a client (the replay buffer's bound). */
  size(): number {
    return this.json().length + 32;
  }
}

/**
 * The first event of a stream whose `since` is older than what is kept, or unknown: the client
 * should reload, then follow. Its id is where the stream goes on from, so that an EventSource that
 * reconnects after it asks for what came after (and not for the lost range again).
 */
export function resetEvent(position: number, since: number, reason: string): OutgoingEvent {
  return new OutgoingEvent(position, 'reset', new Date().toISOString(), { since, reason });
}

/** SSE frames of several events as one write. */
export function sseChunk(events: readonly OutgoingEvent[]): Buffer {
  return events.length === 1 ? events[0]!.sse() : Buffer.concat(events.map((event) => event.sse()));
}

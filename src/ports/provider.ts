import type { Channel, DeliveryResult } from '../domain/notification.ts';

/** What a provider is handed. `id` is stable across retries: receivers dedupe on it. */
export interface OutgoingMessage {
  id: string;
  channel: Channel;
  recipient: string;
  subject: string | null;
  content: string;
  /** 'html' when the content is an HTML body (an email template's), else plain text. */
  content_type: 'text' | 'html';
  metadata: Record<string, unknown>;
  incident_id: string | null;
  created_at: Date;
  attempt: number;
}

/** One implementation per channel (src/adapters/providers), each against a real protocol. */
export interface Provider {
  deliver(message: OutgoingMessage): Promise<DeliveryResult>;
  /** The circuit breaker's key: the channel, or the destination for channels with many. */
  breakerKey(message: OutgoingMessage): string;
  close?(): Promise<void>;
}

export type Providers = Record<Channel, Provider>;

/**
 * Circuit breakers per key (SPEC section 4): after 5 consecutive failures a key opens for a
 * while. `run` answers `open` instead of calling the provider while it is.
 */
export interface CircuitBreakers {
  run(key: string, attempt: () => Promise<DeliveryResult>): Promise<DeliveryResult | { open: true; retry_in_ms: number }>;
}

/** The per-channel delivery budget shared by all workers: how many of `wanted` may go now. */
export interface ChannelRateLimiter {
  acquire(channel: Channel, wanted: number): Promise<{ granted: number; retry_in_ms: number }>;
  /** The grant for `wanted` that another statement already counted (the claim): `used` is the window's total after it. */
  granted(wanted: number, window: { used: number; ms_left: number }): { granted: number; retry_in_ms: number };
}

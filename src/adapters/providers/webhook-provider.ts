import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { OutgoingMessage, Provider } from '../../ports/provider.ts';
import { deliverHttp, hostOf } from './http-delivery.ts';

/**
 * Standard Webhooks signing: `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
 * keyed with the base64 part of a `whsec_` secret. `webhook-id` is the notification id, the same
 * on every retry, so receivers can drop duplicates.
 */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', signingKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

// A KeyObject made once per secret: creating one from a Buffer on every signature cost ~20 us.
let cachedKey: { secret: string; key: KeyObject } | undefined;
function signingKey(secret: string): KeyObject {
  if (cachedKey?.secret !== secret) cachedKey = { secret, key: createSecretKey(Buffer.from(secret.replace(/^whsec_/, ''), 'base64')) };
  return cachedKey.key;
}

export function webhookBody(message: OutgoingMessage): string {
  return JSON.stringify({
    type: 'notification',
    id: message.id,
    subject: message.subject,
    content: message.content,
    incident_id: message.incident_id,
    metadata: message.metadata,
    attempt: message.attempt,
    created_at: message.created_at.toISOString(),
  });
}

/**
 * `secret` gives the signing secret, or a promise of it until it is known (it is read from the
 * database once per process): once known, a delivery waits for nothing before its request.
 */
export function makeWebhookProvider(deps: { agent: Dispatcher; secret: () => string | Promise<string> }): Provider {
  const post = (message: OutgoingMessage, secret: string) => {
    const body = webhookBody(message);
    const timestamp = Math.floor(Date.now() / 1000);
    return deliverHttp(deps.agent, message.recipient, {
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Tocsin-Webhooks/1',
        'webhook-id': message.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(secret, message.id, timestamp, body),
      },
      body,
    });
  };
  return {
    breakerKey: (message) => `webhook:${hostOf(message.recipient)}`,
    deliver(message) {
      const secret = deps.secret();
      return typeof secret === 'string' ? post(message, secret) : secret.then((known) => post(message, known));
    },
  };
}

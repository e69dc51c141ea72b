import type { Dispatcher } from 'undici';
import type { Provider } from '../../ports/provider.ts';
import { deliverHttp } from './http-delivery.ts';

/**
 * Push over an FCM-v1-shaped API: POST PUSH_API_URL with a bearer token and
 * {"message":{"token","notification":{"title","body"},"data"}}; the recipient is the device token.
 */
export function makePushProvider(deps: { agent: Dispatcher; apiUrl?: string | undefined; token?: string | undefined }): Provider {
  return {
    breakerKey: () => 'push',
    async deliver(message) {
      if (!deps.apiUrl) return { ok: false, permanent: true, error: 'push is not configured: set PUSH_API_URL and PUSH_API_TOKEN' };
      return deliverHttp(deps.agent, deps.apiUrl, {
        headers: {
          'content-type': 'application/json',
          'idempotency-key': message.id,
          ...(deps.token ? { authorization: `Bearer ${deps.token}` } : {}),
        },
        body: JSON.stringify({
          message: {
            token: message.recipient,
            notification: { title: message.subject ?? 'Tocsin', body: message.content },
            data: { notification_id: message.id, ...(message.incident_id ? { incident_id: message.incident_id } : {}) },
          },
        }),
      });
    },
  };
}

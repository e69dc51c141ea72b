import type { Dispatcher } from 'undici';
import type { Provider } from '../../ports/provider.ts';
import { deliverHttp } from './http-delivery.ts';

/**
 * SMS over a Twilio-compatible API: POST {SMS_API_URL}/2010-04-01/Accounts/{sid}/Messages.json,
 * form-encoded To/From/Body, basic auth with the account sid and token. Twilio dedupes on
 * I-Twilio-Idempotency-Token; the notification id is stable across retries.
 */
export function makeSmsProvider(deps: { agent: Dispatcher; apiUrl?: string | undefined; accountSid?: string | undefined; authToken?: string | undefined; from?: string | undefined }): Provider {
  return {
    breakerKey: () => 'sms',
    async deliver(message) {
      if (!deps.apiUrl || !deps.accountSid || !deps.authToken) {
        return { ok: false, permanent: true, error: 'SMS is not configured: set SMS_API_URL, SMS_ACCOUNT_SID and SMS_AUTH_TOKEN' };
      }
      const url = `${deps.apiUrl.replace(/\/$/, '')}/2010-04-01/Accounts/${encodeURIComponent(deps.accountSid)}/Messages.json`;
      const form = new URLSearchParams({ To: message.recipient, Body: message.subject ? `${message.subject}\n${message.content}` : message.content });
      if (deps.from) form.set('From', deps.from);
      return deliverHttp(deps.agent, url, {
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${deps.accountSid}:${deps.authToken}`).toString('base64')}`,
          'i-twilio-idempotency-token': message.id,
        },
        body: form.toString(),
      });
    },
  };
}

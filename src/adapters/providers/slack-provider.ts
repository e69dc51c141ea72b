import type { Dispatcher } from 'undici';
import type { Provider } from '../../ports/provider.ts';
import { deliverHttp, hostOf } from './http-delivery.ts';

/** Slack incoming webhooks: the recipient is the hook URL; the message is mrkdwn text. */
export function makeSlackProvider(deps: { agent: Dispatcher }): Provider {
  return {
    breakerKey: (message) => `slack:${hostOf(message.recipient)}`,
    deliver: (message) =>
      deliverHttp(deps.agent, message.recipient, {
        headers: { 'content-type': 'application/json', 'idempotency-key': message.id },
        body: JSON.stringify({ text: message.subject ? `*${message.subject}*\n${message.content}` : message.content }),
      }),
  };
}

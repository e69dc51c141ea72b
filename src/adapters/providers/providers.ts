import type { Config } from '../../config.ts';
import type { Channel } from '../../domain/notification.ts';
import type { Providers } from '../../ports/provider.ts';
import type { Database } from '../postgres/database.ts';
import { webhookSigningSecret } from '../postgres/settings-store.ts';
import { makeEmailProvider } from './email-provider.ts';
import { makeAgent } from './http-delivery.ts';
import { makePushProvider } from './push-provider.ts';
import { makeSlackProvider } from './slack-provider.ts';
import { makeSmsProvider } from './sms-provider.ts';
import { makeWebhookProvider } from './webhook-provider.ts';

type ProviderConfig = Pick<
  Config,
  'SMTP_URL' | 'EMAIL_FROM' | 'SMS_API_URL' | 'SMS_ACCOUNT_SID' | 'SMS_AUTH_TOKEN' | 'SMS_FROM' | 'PUSH_API_URL' | 'PUSH_API_TOKEN' | 'WEBHOOK_SIGNING_SECRET' | 'ALLOW_PRIVATE_TARGETS'
>;

/** Why a channel cannot be used with this configuration, or null. The API refuses such notifications up front. */
export function channelProblem(config: ProviderConfig): (channel: Channel) => string | null {
  return (channel) => {
    if (channel === 'email' && !config.SMTP_URL) return 'email is not configured on this server (set SMTP_URL)';
    if (channel === 'sms' && !(config.SMS_API_URL && config.SMS_ACCOUNT_SID && config.SMS_AUTH_TOKEN)) {
      return 'sms is not configured on this server (set SMS_API_URL, SMS_ACCOUNT_SID and SMS_AUTH_TOKEN)';
    }
    if (channel === 'push' && !config.PUSH_API_URL) return 'push is not configured on this server (set PUSH_API_URL)';
    return null;
  };
}

export function makeProviders(config: ProviderConfig, db: Database): Providers & { closeAll(): Promise<void> } {
  // Customer-supplied URLs (webhooks, Slack) go through the SSRF guard; the operator's own
  // provider URLs (SMS, push) are trusted configuration.
  const guarded = makeAgent({ allowPrivate: config.ALLOW_PRIVATE_TARGETS });
  const trusted = makeAgent({ allowPrivate: true });
  // The signing secret is read (or generated) once per process, and given as a string once known.
  // A lookup that failed (the database was down) is forgotten, so the next delivery asks again
  // instead of failing until a restart.
  let known: string | undefined;
  let secret: Promise<string> | undefined;
  const signingSecret = () =>
    known ??
    (secret ??= webhookSigningSecret(db, config.WEBHOOK_SIGNING_SECRET).then(
      (value) => (known = value),
      (error: unknown) => {
        secret = undefined;
        throw error;
      },
    ));
  const providers = {
    webhook: makeWebhookProvider({ agent: guarded, secret: signingSecret }),
    slack: makeSlackProvider({ agent: guarded }),
    sms: makeSmsProvider({ agent: trusted, apiUrl: config.SMS_API_URL, accountSid: config.SMS_ACCOUNT_SID, authToken: config.SMS_AUTH_TOKEN, from: config.SMS_FROM }),
    push: makePushProvider({ agent: trusted, apiUrl: config.PUSH_API_URL, token: config.PUSH_API_TOKEN }),
    email: makeEmailProvider({ smtpUrl: config.SMTP_URL, from: config.EMAIL_FROM }),
  };
  return {
    ...providers,
    async closeAll() {
      await providers.email.close?.();
      await Promise.all([guarded.close(), trusted.close()]);
    },
  };
}

import { randomBytes } from 'node:crypto';
import type { Executor } from './database.ts';

/**
 * The webhook signing secret: WEBHOOK_SIGNING_SECRET when set, else one generated on first use
 * and kept in PostgreSQL, so that every worker process signs with the same secret.
 */
export async function webhookSigningSecret(db: Executor, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  const generated = `whsec_${randomBytes(24).toString('base64')}`;
  await db.insertInto('settings').values({ name: 'webhook_signing_secret', value: generated }).onConflict((oc) => oc.column('name').doNothing()).execute();
  const row = await db.selectFrom('settings').select('value').where('name', '=', 'webhook_signing_secret').executeTakeFirstOrThrow();
  return row.value;
}

/** SPEC section 10: the secret that signs action links, generated once and kept in PostgreSQL. */
export async function actionLinkSecret(db: Executor): Promise<string> {
  await db.insertInto('settings').values({ name: 'action_link_secret', value: randomBytes(32).toString('base64url') }).onConflict((oc) => oc.column('name').doNothing()).execute();
  const row = await db.selectFrom('settings').select('value').where('name', '=', 'action_link_secret').executeTakeFirstOrThrow();
  return row.value;
}

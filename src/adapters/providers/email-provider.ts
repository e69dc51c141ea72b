import nodemailer from 'nodemailer';
import type { Provider } from '../../ports/provider.ts';
import { withClientSpan } from '../telemetry/trace-context.ts';

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * Email over SMTP with nodemailer's pooled transport. Message-ID is derived from the
 * notification id, so a retried message is recognisably the same message. SMTP replies in the
 * 5xx range are permanent; 4xx and connection failures are retried.
 */
export function makeEmailProvider(deps: { smtpUrl?: string | undefined; from: string }): Provider {
  const transport = deps.smtpUrl ? nodemailer.createTransport(deps.smtpUrl + (deps.smtpUrl.includes('?') ? '&' : '?') + 'pool=true&maxConnections=5') : undefined;
  // SPEC section 12: no instrumentation sees SMTP, so the send is a client span of its own. The
  // server's host and port only: SMTP_URL may carry a password.
  const server = deps.smtpUrl ? new URL(deps.smtpUrl) : undefined;
  const spanAttributes = server ? { 'network.protocol.name': 'smtp', 'server.address': server.hostname, ...(server.port ? { 'server.port': Number(server.port) } : {}) } : {};
  return {
    breakerKey: () => 'email',
    async deliver(message) {
      if (!transport) return { ok: false, permanent: true, error: 'email is not configured: set SMTP_URL' };
      try {
        await withClientSpan('smtp send', spanAttributes, () => transport.sendMail({
          from: deps.from,
          to: message.recipient,
          subject: message.subject ?? 'Notification from Tocsin',
          // An email template's body is HTML already, its variables escaped when it was rendered.
          ...(message.content_type === 'html'
            ? { html: message.content }
            : { text: message.content, html: `<p>${escapeHtml(message.content).replace(/\n/g, '<br>')}</p>` }),
          messageId: `<${message.id}@tocsin>`,
          headers: { 'X-Tocsin-Notification-Id': message.id },
        }));
        return { ok: true, status_code: 250 };
      } catch (error) {
        const responseCode = (error as { responseCode?: number }).responseCode;
        return {
          ok: false,
          permanent: typeof responseCode === 'number' && responseCode >= 500,
          ...(responseCode ? { status_code: responseCode } : {}),
          error: (error as Error).message,
        };
      }
    },
    async close() {
      transport?.close();
    },
  };
}

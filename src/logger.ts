import { pino, type Logger } from 'pino';

/** pino JSON logs (SPEC section 2) with secrets redacted wherever they appear in a log object. */
export function makeLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'tocsin', pid: process.pid },
    redact: {
      paths: [
        'req.headers.authorization',
        'headers.authorization',
        '*.password',
        '*.key',
        '*.token',
        '*.secret',
        'config.ADMIN_API_KEY',
        'config.DATABASE_URL',
        'config.SMS_AUTH_TOKEN',
        'config.PUSH_API_TOKEN',
        'config.WEBHOOK_SIGNING_SECRET',
      ],
      censor: '[redacted]',
    },
  });
}

import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Level } from 'pino';
import { isUntracedPath } from '../telemetry/span-urls.ts';
import { inRequestTrace } from '../telemetry/trace-context.ts';
import { activeTracing } from '../telemetry/tracing-state.ts';

/** Whether `log` writes lines of `level` (Fastify's logger here is pino, which says). */
function logsAt(log: FastifyBaseLogger, level: Level): boolean {
  return (log as FastifyBaseLogger & { isLevelEnabled(level: Level): boolean }).isLevelEnabled(level);
}

/**
 * Fastify's per-request log lines, each inside the request's trace when tracing is on (SPEC
 * section 12: every log line of a request carries its trace_id). Fastify writes "incoming
 * request" before any hook runs, so before the server span exists: for a traced request the
 * tracing SDK writes that line itself as the span starts (telemetry/tracing-sdk.ts), and this
 * skips it. "request completed" comes from the response's events, outside the request's async
 * context, so it is written inside the span here.
 */
export class RequestLogController extends LogController {
  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    if (activeTracing() && !isUntracedPath(request.url)) return;
    super.incomingRequest(request, reply);
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    // Below the log level there is no line to write, so no trace to enter for it.
    if (!logsAt(request.log, error ? 'error' : 'info')) return;
    inRequestTrace(request, () => super.requestCompleted(error, request, reply));
  }
}

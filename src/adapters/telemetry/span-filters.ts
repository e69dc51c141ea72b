import { SpanKind, type Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { redactClientUrl, redactServerUrl } from './span-urls.ts';

// Old (http.*) and stable (url.*) semantic conventions: OTEL_SEMCONV_STABILITY_OPT_IN picks.
const urlAttributes = ['url.full', 'url.path', 'url.query', 'http.url', 'http.target'];

/**
 * Rewrites URL attributes as each span starts, before any exporter can see them. The HTTP
 * instrumentations set these attributes when they create the span, so onStart sees them all.
 */
export class UrlRedactingProcessor implements SpanProcessor {
  onStart(span: Span, _parentContext: Context): void {
    // Tocsin's own provider spans are made with their URL already redacted (clientUrlAttributes).
    if (span.instrumentationScope.name === 'tocsin') return;
    const client = span.kind === SpanKind.CLIENT;
    for (const name of urlAttributes) {
      const value = span.attributes[name];
      if (typeof value !== 'string') continue;
      // @fastify/otel's url.path is the request's URL, query string included: the path alone is
      // what the attribute means, and a query may carry what a user searched for.
      const redacted = client ? redactClientUrl(name, value) : redactServerUrl(name === 'url.path' ? value.split('?', 1)[0]! : value);
      if (redacted !== value) span.setAttribute(name, redacted);
    }
  }

  onEnd(_span: ReadableSpan): void {}

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {}
}

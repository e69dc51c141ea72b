import type { FastifyInstance } from 'fastify';

/**
 * SPEC section 2: an early answer (401, 413, 415, 429) reaches a client that is still sending
 * its body. Such an answer is sent before the body is read; Fastify then asks for the connection
 * to be closed (after a body error), and Node closes it as soon as the answer is written. The
 * client, still uploading, meets a reset (EPIPE, ECONNRESET) instead of the answer: about 5% of
 * 3 MiB uploads through fetch did (tests/early-answers.test.ts).
 *
 * So the connection stays open after an early answer and the rest of the body is read and thrown
 * away, as HTTP/1.1 lets a server do; the client finishes sending, then reads the answer. Only
 * `drainLimitBytes` more are read, for at most `drainTimeoutMs`: a larger or slower upload is cut
 * off, as it was before, rather than keep the server reading for it.
 */
export function answerEarlyWithoutReset(app: FastifyInstance, options: { drainLimitBytes: number; drainTimeoutMs: number }): void {
  app.addHook('onSend', async (request, reply, payload) => {
    const raw = request.raw;
    if (raw.complete || raw.readableEnded) return payload;
    if (reply.getHeader('connection') === 'close') reply.removeHeader('connection');
    // A client that asked for `Connection: close` (node:http without an agent does) would
    // otherwise be closed on at once too; it closes the connection itself once it has the answer.
    reply.raw.shouldKeepAlive = true;
    let drained = 0;
    const cut = () => {
      clearTimeout(timer);
      raw.socket?.destroy();
    };
    const timer = setTimeout(cut, options.drainTimeoutMs);
    timer.unref();
    raw.on('data', (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > options.drainLimitBytes) cut();
    });
    raw.once('end', () => clearTimeout(timer));
    raw.once('close', () => clearTimeout(timer));
    return payload;
  });
}

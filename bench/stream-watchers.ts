// Starts bench/sse-clients.ts (SSE clients in a process of their own) for bench/run.ts and
// bench/stream-fanout.ts.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface StreamReport {
  events: number;
  dropped: number;
  /** Per event (by data.id): how many clients got it, and when the last one did (wall-clock ms). */
  seen: Record<string, { count: number; last: number }>;
}

/**
 * `count` SSE clients on `url`; resolves once all are connected. report() ends them. `countOnly`:
 * only `events` and `dropped` are reported (no per-event `seen`), for the cheapest clients.
 */
export async function watchStream(url: string, key: string, count: number, options: { countOnly?: boolean } = {}) {
  const child = spawn(process.execPath, ['bench/sse-clients.ts', JSON.stringify({ url, key, clients: count, countOnly: options.countOnly ?? false })], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  while (!out.includes('ready\n')) {
    if (child.exitCode !== null) throw new Error(`sse-clients exited with ${child.exitCode}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    /** The clients' process, for its CPU. */
    pid: child.pid,
    async report(): Promise<StreamReport> {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin!.end();
      await exited;
      return JSON.parse(out.trim().split('\n').at(-1)!) as StreamReport;
    },
  };
}

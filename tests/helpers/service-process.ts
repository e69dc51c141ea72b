import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/adapters/free-port.ts';
import type { Exit } from './worker-process.ts';
import { eventually } from './receivers.ts';

const mainScript = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface ServiceProcess {
  child: ChildProcess;
  /** http://127.0.0.1:<port> */
  base: string;
  exited: Promise<Exit>;
  exit?: Exit;
  output(): string;
}

const running = new Set<ServiceProcess>();

/**
 * `node src/main.ts api|all` as a real child process with only the given environment (plus PATH
 * and HOME), on a free port; resolves once /ready answers 200, fails at once if it dies first.
 * Early answers and shutdown deadlines are about sockets between processes: a client in the same
 * process as the server takes turns with it on one event loop and never sees the races.
 */
export async function startServiceProcess(role: 'api' | 'all', env: Record<string, string>): Promise<ServiceProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [mainScript, role], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const service: ServiceProcess = {
    child,
    base: `http://127.0.0.1:${port}`,
    output: () => output,
    exited: new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => {
        service.exit = { code, signal };
        running.delete(service);
        resolve(service.exit);
      });
    }),
  };
  running.add(service);
  await eventually(async () => {
    if (service.exit) return 'exited';
    const response = await fetch(`${service.base}/ready`).catch(() => undefined);
    await response?.arrayBuffer();
    return response?.status === 200 && 'ready';
  }, 30_000, `the ${role} process to answer /ready`);
  if (service.exit) throw new Error(`the ${role} process exited with ${JSON.stringify(service.exit)}:\n${output}`);
  return service;
}

/** SIGKILLs every service process still running (afterEach/afterAll). */
export async function killAllServices(): Promise<void> {
  await Promise.all([...running].map(async (service) => {
    service.child.kill('SIGKILL');
    await service.exited;
  }));
}

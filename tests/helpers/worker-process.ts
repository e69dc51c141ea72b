import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { eventually } from './receivers.ts';

const mainScript = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
/** The tracing hook, loaded as `npm start` loads it (SPEC section 12). */
export const tracingHook = `--import=${new URL('../../src/adapters/telemetry/register.ts', import.meta.url).href}`;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves when the process has exited and its output pipes are drained. */
  exited: Promise<Exit>;
  /** Set once the process has exited. */
  exit?: Exit;
  output(): string;
}

const running = new Set<WorkerProcess>();

/**
 * `node src/main.ts worker` as a real child process, with only the given environment (plus PATH
 * and HOME), so nothing of the test process leaks into it. Resolves once the worker says it
 * started; fails at once if it dies first.
 */
export function startWorkerProcess(env: Record<string, string>): Promise<WorkerProcess> {
  return startServiceProcess('worker', env);
}

/**
 * Any role of the service as a real child process, started as `npm start` starts it (with the
 * tracing hook); `nodeArgs` go before it. Resolves once the process says it listens or started.
 */
export async function startServiceProcess(
  role: 'all' | 'api' | 'worker',
  env: Record<string, string>,
  options: { nodeArgs?: string[] } = {},
): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), tracingHook, mainScript, role], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const worker: WorkerProcess = {
    child,
    output: () => output,
    exited: new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => {
        worker.exit = { code, signal };
        running.delete(worker);
        resolve(worker.exit);
      });
    }),
  };
  running.add(worker);
  const ready = role === 'worker' ? 'Tocsin worker started' : 'listening on';
  await eventually(() => {
    if (worker.exit) return 'exited';
    return output.includes(ready) && 'started';
  }, 45_000, `the ${role} process to start`); // generous: a loaded 2-core machine starts several at once slowly
  if (worker.exit) throw new Error(`the ${role} process exited with ${JSON.stringify(worker.exit)}:\n${output}`);
  return worker;
}

/** SIGKILLs every worker still running (afterEach: a failed test must not leave one behind). */
export async function killAllWorkers(): Promise<void> {
  await Promise.all(
    [...running].map(async (worker) => {
      worker.child.kill('SIGKILL');
      await worker.exited;
    }),
  );
}

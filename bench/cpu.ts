import { readdirSync, readFileSync } from 'node:fs';

// CPU accounting for the bench (Linux /proc): what each phase costs per job or request, split by
// process, so a ratio's gap can be located (issue 17).

/** CPU time (ms) a process has used, from /proc (Linux); 0 when it cannot be read. */
export function cpuMsOf(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / 100) * 1000;
  } catch {
    return 0;
  }
}

/** CPU time (ms) of every local PostgreSQL process (0 when PostgreSQL runs elsewhere). */
export function postgresCpuMs(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') total += cpuMsOf(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}


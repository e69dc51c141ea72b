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

/**
 * CPU time (ms) of every local PostgreSQL process (0 when PostgreSQL runs elsewhere), the
 * backends that have exited included: the postmaster reaps them, and their time moves to its
 * cutime/cstime. Counting the live processes alone, a backend that exited between two readings
 * took its whole CPU time out of the second: one ingest read -0.046 ms of PostgreSQL CPU per request.
 */
export function postgresCpuMs(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue;
      // utime, stime, cutime and cstime: fields 14-17 of /proc/pid/stat, after the parenthesised name.
      const fields = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ');
      total += ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / 100) * 1000;
    } catch {
      // gone meanwhile
    }
  }
  return total;
}


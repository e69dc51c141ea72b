// What the machine itself costs, measured at the start and at the end of a bench run (issue 17):
// the figures of section 9 are ratios measured in the same run, but several of them (the page
// latency, the delivery drains, the stream clients' share) follow how fast this machine runs
// Node, reaches memory, answers a round trip and flushes a commit, and on a shared virtual machine
// those move by a third within an hour. Four small probes give a run's reader that context, and a probe
// that moved between the start and the end of a run says the machine drifted under it.
import pg from 'pg';

export interface MachineProbe {
  /** A fixed integer loop in this process (ms, best of three): CPU speed. */
  cpu_loop_ms: number;
  /**
   * A chain of dependent reads through 32 MB in random order (ns per read, best of three):
   * memory latency. A loop that fits in the CPU's caches does not see what the service does,
   * whose working set does not fit: neighbours on a shared host take cache and memory bandwidth.
   */
  memory_chase_ns: number;
  /** A trivial prepared statement on one connection (µs, mean of 2,000): the round trip. */
  pg_round_trip_us: number;
  /**
   * A one-row insert committed on its own (µs, mean of 300) minus the round trip: what a commit's
   * WAL flush costs here. Every accepted incident and notification waits for one or more.
   */
  pg_commit_flush_us: number;
}

function cpuLoopMs(): number {
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const started = performance.now();
    let x = 0;
    for (let i = 0; i < 20_000_000; i++) x = (x * 31 + i) | 0;
    best = Math.min(best, performance.now() - started);
    if (x === 42) best += 0; // keeps the loop from being optimised away
  }
  return +best.toFixed(1);
}

function memoryChaseNs(): number {
  const slots = 8 * 1024 * 1024;
  const next = new Int32Array(slots);
  for (let i = 0; i < slots; i++) next[i] = i;
  // Sattolo's shuffle: a single cycle through every slot, so the chain never settles in a cache.
  let seed = 12_345;
  const random = () => (seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) / 4_294_967_296;
  for (let i = slots - 1; i > 0; i--) {
    const j = Math.floor(random() * i);
    const swap = next[i]!;
    next[i] = next[j]!;
    next[j] = swap;
  }
  let best = Infinity;
  const steps = 1_000_000;
  for (let round = 0; round < 3; round++) {
    const started = performance.now();
    let at = 0;
    for (let k = 0; k < steps; k++) at = next[at]!;
    best = Math.min(best, performance.now() - started);
    if (at === -1) best += 0; // keeps the chain from being optimised away
  }
  return +((best * 1e6) / steps).toFixed(1);
}

async function meanUs(times: number, run: (i: number) => Promise<unknown>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < times; i++) await run(i);
  return ((performance.now() - started) * 1000) / times;
}

/** Runs the four probes against `databaseUrl` (a database the bench owns: it creates and drops a table there). */
export async function probeMachine(databaseUrl: string): Promise<MachineProbe> {
  const cpu_loop_ms = cpuLoopMs();
  const memory_chase_ns = memoryChaseNs();
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'tocsin-bench-probe' });
  await client.connect();
  try {
    const trivial = (i: number) => client.query({ name: 'probe_trivial', text: 'select $1::int', values: [i] });
    await meanUs(200, trivial);
    const roundTrip = await meanUs(2000, trivial);
    await client.query('create table if not exists bench_machine_probe (n int)');
    const insert = (i: number) => client.query({ name: 'probe_insert', text: 'insert into bench_machine_probe values ($1)', values: [i] });
    await meanUs(20, insert);
    const commit = await meanUs(300, insert);
    await client.query('drop table bench_machine_probe');
    return { cpu_loop_ms, memory_chase_ns, pg_round_trip_us: Math.round(roundTrip), pg_commit_flush_us: Math.round(Math.max(0, commit - roundTrip)) };
  } finally {
    await client.end();
  }
}

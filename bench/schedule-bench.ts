// Micro-benchmark of the schedule computation (SPEC 11, issue 15): the time to compute the
// 93-day final schedule of a 5-layer schedule (hour, day and week turns, some restrictions) with
// 20 overrides, in a zone with daylight saving. Target: under 5 ms.
//
//   npm run bench:schedule   (or node bench/schedule-bench.ts on Node 24; ITERATIONS=n to change the count)
//
// Prints the median and p99 over windows spread across 2026 (each crossing or near a change),
// the first call of the process (cold: JIT and the zone-offset memo empty), a zone never seen
// before, rotations started in 1990 against ones started last week, and `onCallAt`.
import { finalSchedule, onCallAt } from '../src/domain/schedule-final.ts';
import type { Layer, ScheduleOverride, ScheduleRules } from '../src/domain/schedule.ts';

const DAY = 86_400_000;
const WINDOW = 93 * DAY;
const ITERATIONS = Number(process.env.ITERATIONS ?? 2000);

/** A small seeded generator (mulberry32), so every run measures the same work. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function layers(startYear: number): Layer[] {
  const at = (date: string) => `${startYear}-${date}`;
  return [
    { name: 'primary', user_ids: ['ann', 'bob', 'cy', 'dee'], start: at('01-05T09:00'), turn: { count: 1, unit: 'week' } },
    { name: 'secondary', user_ids: ['eve', 'fay', 'gus'], start: at('01-01T02:30'), turn: { count: 1, unit: 'day' } },
    {
      name: 'business hours', user_ids: ['hal', 'ivy', 'jon', 'kim', 'lou'], start: at('01-05T09:00'), turn: { count: 2, unit: 'day' },
      restrictions: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }],
    },
    {
      name: 'nights', user_ids: ['max', 'ned', 'oli'], start: at('01-01T22:00'), turn: { count: 12, unit: 'hour' },
      restrictions: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '22:00', end: '06:00' }],
    },
    {
      name: 'weekends', user_ids: ['pat', 'quin'], start: at('01-03T10:00'), turn: { count: 1, unit: 'week' },
      restrictions: [{ days: ['sat'], start: '10:00', end: '10:00' }, { days: ['sun'], start: '10:00', end: '22:00' }],
    },
  ];
}

function overrides(since: number, next: () => number): ScheduleOverride[] {
  return Array.from({ length: 20 }, (_, i) => {
    const start = since + Math.floor(next() * (WINDOW - DAY));
    return {
      id: `override-${i}`,
      user_id: ['ann', 'zed', 'yan'][i % 3]!,
      start: new Date(start),
      end: new Date(start + Math.floor((1 + next() * 47) * 3_600_000)),
      created_at: new Date(Date.UTC(2025, 11, 1) + Math.floor(next() * 1e9)),
    };
  });
}

function timeOne(schedule: ScheduleRules, list: ScheduleOverride[], since: number): { ms: number; entries: number } {
  const started = performance.now();
  const entries = finalSchedule(schedule, list, new Date(since), new Date(since + WINDOW)).length;
  return { ms: performance.now() - started, entries };
}

function measure(label: string, schedule: ScheduleRules, seed: number): { median: number; p99: number; entries: number } {
  const next = random(seed);
  const runs: number[] = [];
  let entries = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    // Windows starting anywhere in 2026, so each crosses or nears a daylight-saving change.
    const since = Date.UTC(2026, 0, 1) + Math.floor(next() * 300) * DAY + Math.floor(next() * 24) * 3_600_000;
    const run = timeOne(schedule, overrides(since, next), since);
    runs.push(run.ms);
    entries += run.entries;
  }
  runs.sort((a, b) => a - b);
  const result = { median: runs[Math.floor(runs.length / 2)]!, p99: runs[Math.ceil(runs.length * 0.99) - 1]!, entries: Math.round(entries / ITERATIONS) };
  console.log(`${label.padEnd(44)} median ${result.median.toFixed(3)} ms   p99 ${result.p99.toFixed(3)} ms   (${result.entries} entries on average)`);
  return result;
}

const berlin: ScheduleRules = { time_zone: 'Europe/Berlin', layers: layers(2025) };
const since = Date.UTC(2026, 2, 1);
const cold = timeOne(berlin, overrides(since, random(7)), since);
console.log(`Node ${process.versions.node}, ${ITERATIONS} windows of 93 days, 5 layers, 20 overrides`);
console.log(`${'first call of the process (cold)'.padEnd(44)} ${cold.ms.toFixed(3)} ms (${cold.entries} entries)`);

// Warm the JIT and the zone-offset memo over the measured range (a new zone's cost is shown
// below on its own), then measure.
for (let i = 0; i < 400; i++) timeOne(berlin, overrides(since, random(i)), Date.UTC(2026, 0, 1) + (i % 64) * 5 * DAY);
const main = measure('Europe/Berlin, rotations started 2025', berlin, 1);
const old = measure('Europe/Berlin, rotations started 1990', { ...berlin, layers: layers(1990) }, 1);
const fresh = timeOne({ time_zone: 'America/New_York', layers: layers(2025) }, overrides(since, random(3)), since);
console.log(`${'a zone not seen before (America/New_York)'.padEnd(44)} ${fresh.ms.toFixed(3)} ms`);
measure('America/New_York, rotations started 2025', { time_zone: 'America/New_York', layers: layers(2025) }, 2);

const lookups: number[] = [];
const next = random(9);
for (let i = 0; i < ITERATIONS; i++) {
  const at = Date.UTC(2026, 0, 1) + Math.floor(next() * 300 * DAY);
  const started = performance.now();
  onCallAt(berlin, overrides(at - DAY, next), new Date(at));
  lookups.push(performance.now() - started);
}
lookups.sort((a, b) => a - b);
console.log(`${'onCallAt (who is on call now, and until)'.padEnd(44)} median ${lookups[Math.floor(lookups.length / 2)]!.toFixed(3)} ms   p99 ${lookups[Math.ceil(lookups.length * 0.99) - 1]!.toFixed(3)} ms`);

console.log(JSON.stringify({ final_93_days_median_ms: main.median, final_93_days_p99_ms: main.p99, started_1990_median_ms: old.median, target_ms: 5 }));
if (main.median >= 5) process.exitCode = 1;

// An oracle for local times, independent of the code under test (which reads luxon's zone
// offsets through a memo): it reads wall clocks with Intl and finds readings by brute force.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const QUARTER = 15 * MINUTE;

const formatters = new Map<string, Intl.DateTimeFormat>();
const walls = new Map<string, number>();

/** The zone's wall-clock reading at an instant, as ms on a UTC calendar. */
export function oracleWall(zone: string, at: number): number {
  const key = `${zone}@${at}`;
  const known = walls.get(key);
  if (known !== undefined) return known;
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(zone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(new Date(at)).map((p) => [p.type, p.value]));
  const wall = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second)) + (at % 1000);
  walls.set(key, wall);
  return wall;
}

/**
 * SPEC 11's reading of a wall time, by brute force: every offset in these zones is a multiple of
 * 15 minutes within ±14 h, so the instants that may read `wall` are `wall - 15 h + i x 15 min`.
 * The earliest that does read it wins (first occurrence); if none does, the clocks jumped over
 * it, and it is read with the offset of the last candidate before the jump.
 */
export function oracleInstant(zone: string, wall: number): number {
  let beforeJump: number | undefined;
  for (let at = wall - 15 * HOUR; at <= wall + 15 * HOUR; at += QUARTER) {
    const reads = oracleWall(zone, at);
    if (reads === wall) return at;
    if (reads < wall) beforeJump = reads - at;
    else if (beforeJump !== undefined) return wall - beforeJump;
  }
  throw new Error(`oracle found no reading of ${new Date(wall).toISOString()} in ${zone}`);
}

/**
 * The first instant the clock reads `wall` or later (how restriction windows open and close): the
 * first candidate that reads it or more; when that one reads more, the clocks jumped over
 * `wall` since the candidate before, and the jump is found by bisection, to the second.
 */
export function oracleReached(zone: string, wall: number): number {
  let previous: number | undefined;
  for (let at = wall - 15 * HOUR; at <= wall + 15 * HOUR; at += QUARTER) {
    const reads = oracleWall(zone, at);
    if (reads === wall) return at;
    if (reads > wall && previous !== undefined) {
      let low = previous;
      let high = at;
      while (high - low > 1000) {
        const middle = low + Math.floor((high - low) / 2000) * 1000;
        if (oracleWall(zone, middle) >= wall) high = middle;
        else low = middle;
      }
      return high;
    }
    previous = at;
  }
  throw new Error(`oracle found no reading of ${new Date(wall).toISOString()} in ${zone}`);
}

/** `YYYY-MM-DDTHH:mm` of a wall time. */
export const localString = (wall: number) => new Date(wall).toISOString().slice(0, 16);

/** A `YYYY-MM-DDTHH:mm` string as a wall time. */
export const wallOf = (local: string) => Date.parse(`${local}:00Z`);

// The integrity run's report (bench/integrity-run.ts): what the receivers saw against what
// PostgreSQL recorded, per kind of receiver.
import type { Figures } from './integrity-db.ts';

export const hostileKinds = ['nul', 'utf8', 'emoji', 'reset', 'redirect', 'retry_after', 'huge', 'silent', 'trickle'] as const;

export interface Arrival {
  id: string;
  attempt: number;
  /** Whether the receiver accepted this request (answered 2xx). */
  ok: boolean;
  at: number;
  kind?: string;
}

// How each kind must end with max_retries 2, and after how many attempts.
const expected: Record<string, { status: string; attempts: number }> = {
  normal: { status: 'sent', attempts: 1 },
  stranded_by_hand: { status: 'sent', attempts: 1 },
  nul: { status: 'failed', attempts: 3 },
  utf8: { status: 'sent', attempts: 2 },
  emoji: { status: 'failed', attempts: 3 },
  reset: { status: 'sent', attempts: 2 },
  redirect: { status: 'failed', attempts: 1 },
  retry_after: { status: 'sent', attempts: 2 },
  huge: { status: 'sent', attempts: 2 },
  silent: { status: 'sent', attempts: 2 },
  trickle: { status: 'sent', attempts: 2 },
};

export function tally(run: {
  accepted: Map<string, string>;
  arrivals: Arrival[];
  figures: Figures;
  restart: { stoppedAt: number; startedAt: number };
  endedAt: number;
  normalEndedAt: number;
  lastStrandedAt: number;
  maxStranded: number;
  swept: number;
  sweepLog: number;
  strandedByHand: { count: number; liveAfterMs: number; sentAfterMs: number };
  seconds: number;
}): string {
  const { accepted, arrivals, figures } = run;
  const seen = new Map<string, Arrival[]>();
  for (const a of arrivals) seen.set(a.id, [...(seen.get(a.id) ?? []), a]);
  let unrecorded = 0;
  let duplicates = 0;
  let requestsBeyondOne = 0;
  const perKind = new Map<string, { n: number; sent: number; failed: number; other: number; unexpected: number }>();
  for (const [id, kind] of accepted) {
    const row = figures.notifications.get(id);
    const got = seen.get(id) ?? [];
    const recorded = new Set(row?.attempts ?? []);
    unrecorded += got.filter((a) => !recorded.has(a.attempt)).length;
    duplicates += Math.max(0, got.filter((a) => a.ok).length - 1);
    requestsBeyondOne += Math.max(0, got.length - 1);
    const k = perKind.get(kind) ?? { n: 0, sent: 0, failed: 0, other: 0, unexpected: 0 };
    k.n++;
    if (row?.status === 'sent') k.sent++;
    else if (row?.status === 'failed') k.failed++;
    else k.other++;
    const want = expected[kind]!;
    if (row?.status !== want.status || row.attempts.length !== want.attempts || got.length !== want.attempts) k.unexpected++;
    perKind.set(kind, k);
  }
  const ms = (x: number) => `${(x / 1000).toFixed(1)} s`;
  const lines = [
    `accepted                     ${accepted.size - run.strandedByHand.count} (and ${run.strandedByHand.count} stranded by hand for the sweep)`,
    `sent                         ${figures.byStatus.sent ?? 0}`,
    `failed                       ${figures.byStatus.failed ?? 0}`,
    `stranded (must be 0)         ${figures.stranded}`,
    `requests seen by receivers   ${arrivals.length} (${requestsBeyondOne} beyond one per notification, the retries)`,
    `duplicates at the receivers  ${duplicates} (a notification accepted by its receiver more than once)`,
    `requests with no attempt     ${unrecorded}`,
    `PostgreSQL down              ${ms(run.restart.startedAt - run.restart.stoppedAt)}`,
    `work without a live job      ${run.maxStranded === 0 ? 'never seen after the restart' : `up to ${run.maxStranded}, the last seen ${ms(run.lastStrandedAt - run.restart.startedAt)} after PostgreSQL came back`}`,
    `sweep recoveries             ${run.swept} (tocsin_sweep_recovered_total; ${run.sweepLog} logged)`,
    `all to normal receivers sent ${ms(run.normalEndedAt - run.restart.startedAt)} after PostgreSQL came back`,
    `all ended                    ${ms(run.endedAt - run.restart.startedAt)} after PostgreSQL came back (the last: retries held back by the open circuit breakers of always-failing receivers)`,
    `sweep, on work left jobless  ${run.strandedByHand.count} notifications inserted with no job: all back on the queue after ${ms(run.strandedByHand.liveAfterMs)}, all sent after ${ms(run.strandedByHand.sentAfterMs)} (SWEEP_INTERVAL_SECONDS 30)`,
    `run                          ${run.seconds.toFixed(0)} s`,
    '',
    'receiver       notifications  sent  failed  other  not as expected',
    ...[...perKind.entries()].map(([kind, k]) => `${kind.padEnd(15)}${String(k.n).padStart(13)}${String(k.sent).padStart(6)}${String(k.failed).padStart(8)}${String(k.other).padStart(7)}${String(k.unexpected).padStart(17)}`),
  ];
  return lines.join('\n');
}

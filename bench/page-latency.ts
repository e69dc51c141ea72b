// `page_latency_ms` (SPEC section 9): how long after an alert the person on call is paged. A user
// with a webhook contact, an escalation policy paging them at level 0, a team with that policy, an
// Events v2 integration for the team; then one trigger (a new dedup_key each) every 1/rate
// seconds, open-loop, stamped just before it is written, and the time until the level-0 page
// reaches the receiver (this process, on its own port). The first `warmup` seconds open
// connection pools and are not measured. Input: one JSON argument; output: one JSON line.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

const job = JSON.parse(process.argv[2]!) as { url: string; key: string; rate: number; duration: number; warmup: number };
const now = () => performance.timeOrigin + performance.now();
const api = new Pool(job.url, { connections: 8 });

// The page names its incident; the trigger is answered with its dedup_key only, so each trigger's
// dedup_key is looked up as the incident's title (the summary) when the page arrives.
const pagedAt = new Map<string, number>();
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = now();
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { incident_id?: string };
    if (body.incident_id && !pagedAt.has(body.incident_id)) pagedAt.set(body.incident_id, at);
    res.writeHead(200).end();
  });
});
receiver.keepAliveTimeout = 60_000;
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const response = await api.request({
    method,
    path,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${job.key}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.body.text();
  if (response.statusCode >= 300) throw new Error(`${method} ${path} answered ${response.statusCode}: ${text}`);
  return JSON.parse(text) as T;
}

const tag = randomUUID().slice(0, 8);
const user = await call<{ id: string }>('POST', '/v1/users', {
  name: `On call ${tag}`,
  email: `oncall-${tag}@example.com`,
  contact_methods: [{ type: 'webhook', address: `${receiverUrl}/page` }],
});
const policy = await call<{ id: string }>('POST', '/v1/escalation-policies', { name: `Bench ${tag}`, levels: [{ delay_seconds: 0, user_ids: [user.id] }], repeat: 0 });
const team = await call<{ id: string }>('POST', '/v1/teams', { name: `Bench ${tag}`, member_ids: [user.id], escalation_policy_id: policy.id });
const integration = await call<{ key: string }>('POST', '/v1/integrations', { type: 'events_v2', name: `Bench ${tag}`, team_id: team.id });

const interval = 1000 / job.rate;
const warmup = Math.round(job.rate * job.warmup);
const total = warmup + Math.round(job.rate * job.duration);
const sent = new Map<string, number>(); // dedup_key -> request start (measured ones only)
let failures = 0;
// How long the trigger request itself took to be answered (202): the part of the page latency
// spent before the incident's transaction committed.
const answered: number[] = [];
const inflight: Promise<void>[] = [];
const start = performance.now();
for (let i = 0; i < total; i++) {
  const due = start + i * interval;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  const dedupKey = `bench-${tag}-${i}`;
  const sentAt = now();
  if (i >= warmup) sent.set(dedupKey, sentAt);
  inflight.push(
    api
      .request({
        method: 'POST',
        path: '/v2/enqueue',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          routing_key: integration.key,
          event_action: 'trigger',
          dedup_key: dedupKey,
          payload: { summary: dedupKey, source: 'bench', severity: 'critical' },
        }),
      })
      .then(async (response) => {
        if (i >= warmup) answered.push(now() - sentAt);
        await response.body.dump();
        if (response.statusCode !== 202) failures += 1;
      }, () => {
        failures += 1;
      }),
  );
}
await Promise.all(inflight);

// Wait (up to 10 s) for every page, then match pages to triggers through the incidents' titles.
const deadline = Date.now() + 10_000;
while (pagedAt.size < total - failures && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
const latencies: number[] = [];
let cursor: string | undefined;
const titleOf = new Map<string, string>();
do {
  const page = await call<{ data: { id: string; title: string }[]; next_cursor: string | null }>(
    'GET', `/v1/incidents?team_id=${team.id}&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
  );
  for (const incident of page.data) titleOf.set(incident.id, incident.title);
  cursor = page.next_cursor ?? undefined;
} while (cursor);
for (const [incidentId, at] of pagedAt) {
  const stamp = sent.get(titleOf.get(incidentId) ?? '');
  if (stamp !== undefined) latencies.push(at - stamp);
}
latencies.sort((a, b) => a - b);
const pct = (p: number, of = latencies) => of[Math.min(of.length - 1, Math.ceil((p / 100) * of.length) - 1)] ?? NaN;
answered.sort((a, b) => a - b);
await api.close();
receiver.closeAllConnections();
receiver.close();
process.stdout.write(`${JSON.stringify({ triggers: sent.size, pages: latencies.length, failures, page_latency_ms_p50: +pct(50).toFixed(1), page_latency_ms_p99: +pct(99).toFixed(1), trigger_response_ms_p50: +pct(50, answered).toFixed(1), trigger_response_ms_p99: +pct(99, answered).toFixed(1), seconds: (performance.now() - start) / 1000 })}\n`);

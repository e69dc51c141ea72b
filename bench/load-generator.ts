// A separate process that generates HTTP load with autocannon, so the load never shares an
// event loop with the service or the receiver. Input: one JSON argument; output: one JSON line.
import autocannon from 'autocannon';

interface Job {
  url: string;
  path: string;
  key: string;
  connections: number;
  duration: number;
  overallRate?: number;
  /** `incident` posts an incident (to Tocsin or to the bare baseline route). */
  body: 'incident' | 'bare';
}

const job = JSON.parse(process.argv[2]!) as Job;
let sequence = 0;

const bodyFor = (): string => {
  sequence += 1;
  return JSON.stringify({ title: `bench incident ${sequence}`, severity: 'P3', description: 'load test' });
};

const result = await autocannon({
  url: job.url,
  connections: job.connections,
  duration: job.duration,
  ...(job.overallRate ? { overallRate: job.overallRate } : {}),
  requests: [
    {
      method: 'POST',
      path: job.path,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${job.key}` },
      setupRequest: (request) => ({ ...request, body: bodyFor() }),
    },
  ],
});

process.stdout.write(
  `${JSON.stringify({
    requests: result.requests.total,
    rps: result.requests.average,
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    duration_s: result.duration,
  })}\n`,
);

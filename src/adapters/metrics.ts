import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { sql } from 'kysely';
import { channels, type Channel } from '../domain/notification.ts';
import type { Database } from './postgres/database.ts';
import { recoveryTotals } from './queue/stranded-sweep.ts';

/**
 * Prometheus metrics (SPEC section 4), all named tocsin_*. Counters and histograms are per
 * process, as Prometheus expects; the queue depth gauge reads PostgreSQL at scrape time, so any
 * process reports the depth of the whole system.
 */
export function makeMetrics(deps: { db: Database }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tocsin_process_' });
  // prom-client names three gauges *_total, a suffix Prometheus reserves for counters, so
  // `promtool check metrics` remarks on them (SPEC section 4 wants no remarks). They are only the
  // sums of the per-type gauges it also exports (tocsin_process_nodejs_active_handles{type}, ...).
  for (const kind of ['handles', 'requests', 'resources']) registry.removeSingleMetric(`tocsin_process_nodejs_active_${kind}_total`);

  const notifications = new Counter({
    name: 'tocsin_notifications_total',
    help: 'Delivery attempts by channel and outcome (sent, retry, failed, deferred)',
    labelNames: ['channel', 'status'] as const,
    registers: [registry],
  });
  const deliveryDuration = new Histogram({
    name: 'tocsin_delivery_duration_seconds',
    help: 'Time a provider took to accept or refuse a notification',
    labelNames: ['channel'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'tocsin_queue_depth',
    help: 'Notifications waiting to be delivered (scheduled, queued or sending), by channel',
    labelNames: ['channel'] as const,
    registers: [registry],
    async collect() {
      const { rows } = await sql<{ channel: Channel; n: string }>`
        select channel, count(*) as n from notifications
        where status in ('scheduled', 'queued', 'sending') group by channel`.execute(deps.db);
      const depth = new Map(rows.map((r) => [r.channel, Number(r.n)]));
      for (const channel of channels) this.set({ channel }, depth.get(channel) ?? 0);
    },
  });
  new Counter({
    name: 'tocsin_sweep_recovered_total',
    help: 'Notifications and escalation steps the sweep found without a live job and put back on the queue (SPEC section 4), by kind',
    labelNames: ['kind'] as const,
    registers: [registry],
    // Counted in PostgreSQL by whichever worker swept, so that every process reports the total.
    async collect() {
      const totals = await recoveryTotals(deps.db);
      this.reset();
      for (const kind of ['notification', 'escalation_step']) this.inc({ kind }, totals.get(kind) ?? 0);
    },
  });
  const httpDuration = new Histogram({
    name: 'tocsin_http_request_duration_seconds',
    help: 'HTTP request duration by method, route and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });

  return {
    registry,
    observeDelivery(channel: Channel, outcome: 'sent' | 'retry' | 'failed' | 'deferred', durationMs: number) {
      notifications.inc({ channel, status: outcome });
      if (outcome !== 'deferred') deliveryDuration.observe({ channel }, durationMs / 1000);
    },
    observeHttp(method: string, route: string, statusCode: number, seconds: number) {
      httpDuration.observe({ method, route, status_code: String(statusCode) }, seconds);
    },
  };
}

export type Metrics = ReturnType<typeof makeMetrics>;

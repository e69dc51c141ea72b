// Notifications (SPEC section 8): a filtered list, each one's attempts, and the retry of a failed
// one (a redrive from the dead letter queue, SPEC section 4).
import { useEffect, useState } from 'preact/hooks';
import { api, call, type Notification } from './api.ts';
import { onLive, type LiveEvent } from './live.ts';
import { go, withQuery } from './router.ts';
import { Badge, Empty, ErrorNote, Notice, Time, coalesce, html, useFocusHeading, userName, when } from './ui.ts';

type Attempt = Notification['attempts'][number];

export function Attempts({ attempts }: { attempts: Attempt[] }) {
  if (attempts.length === 0) return html`<p class="muted">No attempt yet.</p>`;
  return html`<ol class="attempts" aria-label="Attempts">
    ${attempts.map((a) => html`<li>
      <span>Attempt ${a.attempt}</span>
      <${Badge} kind="outcome" value=${a.outcome} />
      ${a.status_code ? html`<span>HTTP ${a.status_code}</span>` : null}
      <span>${a.duration_ms} ms</span>
      <span><${Time} iso=${a.at} /></span>
      ${a.error ? html`<span class="error-text">${a.error}</span>` : null}
    </li>`)}
  </ol>`;
}

const statuses = ['scheduled', 'queued', 'sending', 'sent', 'failed', 'cancelled'] as const;
const channels = ['email', 'sms', 'push', 'webhook', 'slack'] as const;
const priorities = ['high', 'normal', 'low'] as const;

const touchesNotifications = (event: LiveEvent) => event.type === 'resync' || event.type === 'notification.updated';

export function NotificationList({ query }: { query: URLSearchParams }) {
  const status = query.get('status') ?? '';
  const channel = query.get('channel') ?? '';
  const priority = query.get('priority') ?? '';
  const [items, setItems] = useState<Notification[]>();
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>();
  const heading = useFocusHeading();

  const load = async (cursor?: string) => {
    try {
      const filters = {
        ...(status ? { status: status as (typeof statuses)[number] } : {}),
        ...(channel ? { channel: channel as (typeof channels)[number] } : {}),
        ...(priority ? { priority: priority as (typeof priorities)[number] } : {}),
      };
      const { data } = await call(api.GET('/v1/notifications', { params: { query: { ...filters, limit: 50, ...(cursor ? { cursor } : {}) } } }));
      setItems((before) => (cursor ? [...(before ?? []), ...data.data] : data.data));
      setNext(data.next_cursor ?? null);
      setError(undefined);
    } catch (problem) {
      setError(problem);
    }
  };
  useEffect(() => {
    setItems(undefined);
    void load();
    const reload = coalesce(() => load());
    return onLive((event) => { if (touchesNotifications(event)) reload(); });
  }, [status, channel, priority]);

  const set = (values: Record<string, string>) => go(withQuery('#/notifications', { status, channel, priority, ...values }), true);
  const select = (id: string, label: string, value: string, options: readonly string[], key: string) => html`<div class="field">
    <label for=${id}>${label}</label>
    <select id=${id} value=${value} onChange=${(e: Event) => set({ [key]: (e.target as HTMLSelectElement).value })}>
      <option value="">Any</option>
      ${options.map((o) => html`<option value=${o}>${o}</option>`)}
    </select>
  </div>`;

  return html`<section>
    <h1 ref=${heading} tabindex="-1">Notifications</h1>
    <div class="filters">
      ${select('filter-status', 'Status', status, statuses, 'status')}
      ${select('filter-channel', 'Channel', channel, channels, 'channel')}
      ${select('filter-priority', 'Priority', priority, priorities, 'priority')}
    </div>
    <${ErrorNote} error=${error} />
    ${items === undefined && !error ? html`<p class="loading">Loading notifications…</p>` : null}
    ${items && items.length === 0 ? html`<${Empty}>${status || channel || priority ? 'No notification matches these filters.' : 'No notifications yet. Pages and API notifications appear here.'}<//>` : null}
    ${items && items.length > 0 ? html`<ul class="cards" aria-label="Notifications">
      ${items.map((n) => html`<li class="card" key=${n.id}>
        <div class="card-head">
          <${Badge} kind="n" value=${n.status} />
          <a class="card-title" href=${`#/notifications/${n.id}`}>${n.subject || `${n.channel} to ${n.user_id ? userName(n.user_id) : n.recipient}`}</a>
        </div>
        <div class="card-meta">
          <span>${n.channel}</span><span>${n.priority} priority</span>
          <span>${n.attempts.length} attempt(s)</span>
          <span>created <${Time} iso=${n.created_at} /></span>
        </div>
      </li>`)}
    </ul>` : null}
    ${next ? html`<button type="button" class="secondary" onClick=${() => load(next)}>Show more</button>` : null}
  </section>`;
}

export function NotificationPage({ id }: { id: string }) {
  const [notification, setNotification] = useState<Notification>();
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState('');
  const heading = useFocusHeading();

  const load = () => call(api.GET('/v1/notifications/{id}', { params: { path: { id } } })).then(({ data }) => { setNotification(data); }, setError);
  useEffect(() => {
    void load();
    const reload = coalesce(load);
    return onLive((event) => {
      const data = event.data ?? {};
      if (event.type === 'resync' || (event.type === 'notification.updated' && (data.id === id || (data.items ?? []).some((i) => i.id === id)))) reload();
    });
  }, [id]);

  async function act(what: 'retry' | 'cancel') {
    setError(undefined);
    setDone('');
    try {
      if (what === 'retry') await call(api.POST('/v1/notifications/{id}/retry', { params: { path: { id } } }));
      else await call(api.DELETE('/v1/notifications/{id}', { params: { path: { id } } }));
      setDone(what === 'retry' ? 'Queued again: the next attempt follows shortly.' : 'Cancelled.');
    } catch (problem) {
      setError(problem);
    }
    await load();
  }

  if (!notification) return html`<section><h1 ref=${heading} tabindex="-1">Notification</h1>${error ? html`<${ErrorNote} error=${error} />` : html`<p class="loading">Loading…</p>`}</section>`;
  const n = notification;
  const rows: [string, unknown][] = [
    ['Status', n.status], ['Channel', n.channel], ['To', n.user_id ? `${userName(n.user_id)}${n.recipient ? ` (${n.recipient})` : ''}` : n.recipient],
    ['Priority', n.priority], ['Retries', `${n.retry_count} of ${n.max_retries}`], ['Created', when(n.created_at)],
    ['Scheduled for', when(n.scheduled_at)], ['Sent', when(n.sent_at)],
  ];
  if (n.last_error) rows.push(['Last error', n.last_error]);
  return html`<article>
    <p class="crumbs"><a href="#/notifications">Notifications</a>${n.incident_id ? html` · <a href=${`#/incidents/${n.incident_id}`}>its incident</a>` : null}</p>
    <h1 ref=${heading} tabindex="-1">${n.subject || `Notification by ${n.channel}`}</h1>
    <div class="actions">
      ${n.status === 'failed' ? html`<button type="button" onClick=${() => act('retry')}>Retry</button>` : null}
      ${n.status === 'queued' || n.status === 'scheduled' ? html`<button type="button" class="secondary" onClick=${() => act('cancel')}>Cancel</button>` : null}
    </div>
    <${ErrorNote} error=${error} />
    ${done ? html`<${Notice}>${done}<//>` : null}
    <dl class="fields">${rows.map(([label, value]) => html`<div><dt>${label}</dt><dd>${String(value ?? '—')}</dd></div>`)}</dl>
    ${n.content ? html`<h2>Content</h2><pre class="content">${n.content}</pre>` : null}
    <h2>Attempts</h2>
    <${Attempts} attempts=${n.attempts} />
  </article>`;
}

// One incident (SPEC section 8): its fields; acknowledge, resolve; severity, team and assignee
// changed under If-Match (a lost race, 412, is said and the page refreshed); comments; and one
// timeline of changes, comments, escalation steps and notifications with their attempts.
import { useEffect, useRef, useState } from 'preact/hooks';
import { all, api, call, get, type Incident, type Notification, type TimelineEvent } from './api.ts';
import { concernsIncident, onLive } from './live.ts';
import { Badge, Empty, ErrorNote, Notice, Time, actorName, coalesce, directory, html, newKey, teamName, useFocusHeading, userName, when } from './ui.ts';
import { Attempts } from './notifications-screen.ts';

interface Loaded {
  incident: Incident;
  etag: string;
  events: TimelineEvent[];
  notifications: Notification[];
}

async function loadIncident(id: string): Promise<Loaded> {
  const [{ data: incident, response }, events, notifications] = await Promise.all([
    call(api.GET('/v1/incidents/{id}', { params: { path: { id } } })),
    all((cursor) => get(api.GET('/v1/incidents/{id}/events', { params: { path: { id }, query: { limit: 500, cursor } } }))),
    all((cursor) => get(api.GET('/v1/incidents/{id}/notifications', { params: { path: { id }, query: { limit: 500, cursor } } }))),
  ]);
  return { incident, etag: response.headers.get('etag') ?? '', events, notifications };
}

export function IncidentPage({ id }: { id: string }) {
  const [loaded, setLoaded] = useState<Loaded>();
  const [error, setError] = useState<unknown>();
  const heading = useFocusHeading();

  const refresh = () => loadIncident(id).then((data) => { setLoaded(data); setError(undefined); }, setError);
  useEffect(() => {
    void refresh();
    const reload = coalesce(refresh);
    return onLive((event) => { if (concernsIncident(event, id)) reload(); });
  }, [id]);

  if (!loaded) {
    return html`<section><h1 ref=${heading} tabindex="-1">Incident</h1>${error ? html`<${ErrorNote} error=${error} />` : html`<p class="loading">Loading…</p>`}</section>`;
  }
  const { incident } = loaded;
  return html`<article class="incident">
    <p class="crumbs"><a href="#/incidents">Incidents</a></p>
    <h1 ref=${heading} tabindex="-1">${incident.title}</h1>
    <div class="card-meta">
      <${Badge} kind="sev" value=${incident.severity} />
      <${Badge} kind="status" value=${incident.status} />
      <span>opened <${Time} iso=${incident.created_at} /></span>
    </div>
    <${ErrorNote} error=${error} />
    <${StatusActions} incident=${incident} refresh=${refresh} />
    <${Fields} incident=${incident} />
    <${EditForm} incident=${incident} etag=${loaded.etag} refresh=${refresh} />
    <${CommentForm} id=${id} refresh=${refresh} />
    <h2>Timeline</h2>
    <${Timeline} events=${loaded.events} notifications=${loaded.notifications} />
  </article>`;
}

function StatusActions({ incident, refresh }: { incident: Incident; refresh: () => Promise<void> }) {
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  async function move(status: 'acknowledged' | 'resolved') {
    setBusy(true);
    setError(undefined);
    try {
      await call(api.PATCH('/v1/incidents/{id}/status', { params: { path: { id: incident.id } }, body: { status } }));
      await refresh();
    } catch (problem) {
      setError(problem);
      await refresh();
    }
    setBusy(false);
  }
  if (incident.status === 'resolved') return html`<p class="note ok">Resolved ${when(incident.resolved_at)}.</p>`;
  return html`<div class="actions">
    ${incident.status === 'open' ? html`<button type="button" disabled=${busy} onClick=${() => move('acknowledged')}>Acknowledge</button>` : null}
    <button type="button" class="resolve" disabled=${busy} onClick=${() => move('resolved')}>Resolve</button>
    <${ErrorNote} error=${error} />
  </div>`;
}

function Fields({ incident }: { incident: Incident }) {
  const rows: [string, unknown][] = [
    ['Status', incident.status],
    ['Severity', incident.severity],
    ['Team', teamName(incident.team_id)],
    ['Assignee', userName(incident.assignee_id)],
    ['Notifications', incident.notification_status],
    ['Source', incident.source],
    ['Opened by', actorName(incident.created_by)],
    ['Opened', when(incident.created_at)],
    ['Acknowledged', when(incident.acknowledged_at)],
    ['Resolved', when(incident.resolved_at)],
  ];
  if (incident.dedup_key) rows.push(['Dedup key', incident.dedup_key]);
  return html`<dl class="fields">
    ${rows.map(([label, value]) => html`<div><dt>${label}</dt><dd>${String(value)}</dd></div>`)}
    ${incident.description ? html`<div class="wide"><dt>Description</dt><dd class="prose">${incident.description}</dd></div>` : null}
  </dl>`;
}

/**
 * Severity, team and assignee. The form remembers the ETag of the version it was filled from: a
 * change that arrives while someone edits does not overwrite their choices, and saving them then
 * answers 412, which is said as a sentence before the form shows the new version.
 */
function EditForm({ incident, etag, refresh }: { incident: Incident; etag: string; refresh: () => Promise<void> }) {
  const base = { severity: incident.severity, team_id: incident.team_id ?? '', assignee_id: incident.assignee_id ?? '' };
  const [values, setValues] = useState(base);
  const [baseEtag, setBaseEtag] = useState(etag);
  const [dirty, setDirty] = useState(false);
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const latest = useRef({ base, etag });
  latest.current = { base, etag };

  useEffect(() => {
    if (!dirty) {
      setValues(latest.current.base);
      setBaseEtag(latest.current.etag);
    }
  }, [etag, dirty]);

  const change = (field: keyof typeof base) => (event: Event) => {
    setValues({ ...values, [field]: (event.target as HTMLSelectElement).value });
    setDirty(true);
    setSaved(false);
  };

  async function save(event: SubmitEvent) {
    event.preventDefault();
    const body: { severity?: 'P1' | 'P2' | 'P3' | 'P4'; team_id?: string | null; assignee_id?: string | null } = {};
    if (values.severity !== base.severity) body.severity = values.severity;
    if (values.team_id !== base.team_id) body.team_id = values.team_id || null;
    if (values.assignee_id !== base.assignee_id) body.assignee_id = values.assignee_id || null;
    setBusy(true);
    setError(undefined);
    try {
      await call(api.PATCH('/v1/incidents/{id}', { params: { path: { id: incident.id }, header: { 'if-match': baseEtag } }, body }));
      setSaved(true);
    } catch (problem) {
      setError(problem);
    }
    setDirty(false);
    setBusy(false);
    await refresh();
  }

  const { users, teams } = directory.value;
  return html`<form class="edit" onSubmit=${save} aria-labelledby="edit-heading">
    <h2 id="edit-heading">Change</h2>
    <div class="filters">
      <div class="field">
        <label for="edit-severity">Severity</label>
        <select id="edit-severity" value=${values.severity} onChange=${change('severity')}>
          ${['P1', 'P2', 'P3', 'P4'].map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="edit-team">Team</label>
        <select id="edit-team" value=${values.team_id} onChange=${change('team_id')}>
          <option value="">No team</option>
          ${[...teams.values()].map((t) => html`<option value=${t.id}>${t.name}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="edit-assignee">Assignee</label>
        <select id="edit-assignee" value=${values.assignee_id} onChange=${change('assignee_id')}>
          <option value="">Nobody</option>
          ${[...users.values()].map((u) => html`<option value=${u.id}>${u.name}</option>`)}
        </select>
      </div>
      <div class="field end"><button type="submit" disabled=${busy || !dirty}>Save changes</button></div>
    </div>
    ${dirty && etag !== baseEtag ? html`<p class="note warn">This incident changed since you started editing.</p>` : null}
    <${ErrorNote} error=${error} />
    ${saved ? html`<${Notice}>Saved.<//>` : null}
  </form>`;
}

function CommentForm({ id, refresh }: { id: string; refresh: () => Promise<void> }) {
  const [error, setError] = useState<unknown>();
  const [body, setBody] = useState('');
  const [key, setKey] = useState(newKey);
  async function submit(event: SubmitEvent) {
    event.preventDefault();
    if (!body.trim()) return;
    try {
      await call(api.POST('/v1/incidents/{id}/comments', { params: { path: { id }, header: { 'idempotency-key': key } }, body: { body } }));
      setBody('');
      setKey(newKey());
      setError(undefined);
      await refresh();
    } catch (problem) {
      setError(problem);
    }
  }
  return html`<form class="comment" onSubmit=${submit}>
    <label for="comment-body">Comment</label>
    <textarea id="comment-body" rows="3" value=${body} onInput=${(e: Event) => setBody((e.target as HTMLTextAreaElement).value)} maxlength="20000"></textarea>
    <${ErrorNote} error=${error} />
    <button type="submit">Add comment</button>
  </form>`;
}

type Item = { at: string; key: string; event?: TimelineEvent; notification?: Notification };

/** Events and the notifications that have no outcome on the timeline yet, oldest first. */
function Timeline({ events, notifications }: { events: TimelineEvent[]; notifications: Notification[] }) {
  const byId = new Map(notifications.map((n) => [n.id, n]));
  // A notification shows once: under its outcome when it has one, else under the page that sent
  // it, else on its own (one sent through the API for this incident).
  const told = new Set(events.map((e) => String((e.data as { notification_id?: string }).notification_id)));
  const paged = new Set(events.filter((e) => e.type === 'escalation.paged')
    .flatMap((e) => ((e.data as { users?: { notifications?: { notification_id: string }[] }[] }).users ?? []).flatMap((u) => (u.notifications ?? []).map((n) => n.notification_id))));
  const items: Item[] = [
    ...events.map((event) => ({ at: event.created_at, key: event.id, event })),
    ...notifications.filter((n) => !told.has(n.id) && !paged.has(n.id)).map((notification) => ({ at: notification.created_at, key: notification.id, notification })),
  ].sort((a, b) => a.at.localeCompare(b.at));
  if (items.length === 0) return html`<${Empty}>Nothing has happened yet.<//>`;
  return html`<ol class="timeline">
    ${items.map((item) => html`<li key=${item.key}>
      <div class="when"><${Time} iso=${item.at} /></div>
      <div class="what">${item.event ? html`<${EventLine} event=${item.event} byId=${byId} told=${told} />` : html`<${NotificationLine} notification=${item.notification!} />`}</div>
    </li>`)}
  </ol>`;
}

function NotificationLine({ notification }: { notification: Notification }) {
  return html`<p>Notification by ${notification.channel} to ${notification.user_id ? userName(notification.user_id) : notification.recipient}: <${Badge} kind="n" value=${notification.status} />
    <a href=${`#/notifications/${notification.id}`}>details</a></p>
    <${Attempts} attempts=${notification.attempts} />`;
}

const names = (ids: unknown) => (Array.isArray(ids) && ids.length > 0 ? ids.map((id) => userName(String(id))).join(', ') : 'nobody');
const scheduleNames = (ids: unknown) => (Array.isArray(ids) ? ids.map((id) => directory.value.schedules.get(String(id))?.name ?? 'a schedule') : []);

function EventLine({ event, byId, told }: { event: TimelineEvent; byId: Map<string, Notification>; told: Set<string> }) {
  const who = actorName(event.actor, event.actor_name);
  const data = (event.data ?? {}) as Record<string, any>;
  const line = (text: unknown, extra: unknown = null) => html`<p>${text}</p>${extra}`;
  switch (event.type) {
    case 'incident.created':
      return line(html`<strong>${who}</strong> opened the incident (${data.severity ?? ''}, from ${data.source ?? 'the API'}).`);
    case 'incident.status_changed':
      return line(html`<strong>${who}</strong> ${data.to === 'acknowledged' ? 'acknowledged' : data.to === 'resolved' ? 'resolved' : `set the status to ${data.to}`} the incident.`,
        data.note ? html`<p class="quote">${data.note}</p>` : null);
    case 'incident.comment':
      return line(html`<strong>${who}</strong> commented:`, html`<p class="quote prose">${data.body}</p>`);
    case 'incident.updated': {
      const changes = Object.entries((data.changes ?? {}) as Record<string, unknown>).map(([field, value]) => `${field.replace(/_id$/, '').replace(/_/g, ' ')} to ${describe(field, value)}`);
      return line(html`<strong>${who}</strong> changed ${changes.length ? changes.join(', ') : 'the incident'}.`);
    }
    case 'incident.team_missing':
      return line(`The team this alert was meant for no longer exists, so nobody was paged.`);
    case 'escalation.paged': {
      const users = (data.users ?? []) as { name?: string; user_id: string; notifications?: { notification_id: string; channel: string }[] }[];
      return line(html`Level ${Number(data.level) + 1}${data.round ? ` (repeat ${data.round})` : ''} paged: ${users.length ? users.map((u) => `${u.name ?? userName(u.user_id)} (${(u.notifications ?? []).map((n) => n.channel).join(', ') || 'no contact method'})`).join('; ') : 'nobody'}.`,
        html`<ul class="sub">${users.flatMap((u) => u.notifications ?? []).filter((n) => !told.has(n.notification_id)).map((n) => byId.get(n.notification_id)).filter(Boolean).map((n) => html`<li><${NotificationLine} notification=${n!} /></li>`)}</ul>`);
    }
    case 'escalation.scheduled':
      return line(`Next: level ${Number(data.level) + 1} (${[names(data.user_ids), ...scheduleNames(data.schedule_ids).map((s) => `on call in ${s}`)].join(', ')}) will be paged ${when(data.due_at)} unless someone acknowledges.`);
    case 'escalation.level_empty':
      return line(`Level ${Number(data.level) + 1} found nobody on call: ${data.message ?? ''}.`);
    case 'escalation.exhausted':
      return line('Every level of the escalation policy has been paged; nobody is left to escalate to.');
    case 'escalation.stopped':
      return line(html`Escalation stopped (${data.reason === 'reassigned' ? 'the incident moved to another team' : `the incident was ${data.reason}`}${data.cancelled_steps?.length ? `; ${data.cancelled_steps.length} later level(s) will not be paged` : ''}).`);
    case 'escalation.outcome_notified':
      return line(`Those already paged were told it was ${data.status} (${(data.notifications ?? []).length} notification(s)).`);
    case 'notification.sent':
    case 'notification.failed': {
      const notification = byId.get(data.notification_id);
      return line(html`Notification by ${data.channel} to ${notification?.user_id ? userName(notification.user_id) : data.recipient} <strong>${event.type === 'notification.sent' ? 'delivered' : 'failed'}</strong> after ${data.attempts} attempt(s)${data.error ? `: ${data.error}` : ''}.
        ${notification ? html` <a href=${`#/notifications/${notification.id}`}>details</a>` : null}`,
        notification ? html`<${Attempts} attempts=${notification.attempts} />` : null);
    }
    default:
      return line(html`<strong>${who}</strong>: ${event.type}`);
  }
}

function describe(field: string, value: unknown): string {
  if (value === null) return 'none';
  if (field === 'team_id') return teamName(String(value));
  if (field === 'assignee_id') return userName(String(value));
  return String(value);
}

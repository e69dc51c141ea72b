// The incident list (SPEC section 8): status tabs, severity and team filters, text search, newest
// first, kept current by the live feed. The filters live in the route, so a reload or a shared
// link shows the same list.
import { useEffect, useState } from 'preact/hooks';
import { api, call, type Incident } from './api.ts';
import { onLive } from './live.ts';
import { go, withQuery } from './router.ts';
import { Badge, Empty, ErrorNote, Time, coalesce, directory, html, teamName, useFocusHeading, userName } from './ui.ts';

const tabs = [['open', 'Open'], ['acknowledged', 'Acknowledged'], ['resolved', 'Resolved'], ['all', 'All']] as const;
type Status = 'open' | 'acknowledged' | 'resolved';

export function IncidentList({ query }: { query: URLSearchParams }) {
  const status = query.get('status') ?? 'open';
  const severity = query.get('severity') ?? '';
  const team = query.get('team') ?? '';
  const q = query.get('q') ?? '';
  const [items, setItems] = useState<Incident[] | undefined>();
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>();
  const heading = useFocusHeading();

  const filters = {
    ...(status !== 'all' ? { status: status as Status } : {}),
    ...(severity ? { severity: severity as 'P1' } : {}),
    ...(team ? { team_id: team } : {}),
    ...(q ? { q } : {}),
  };
  const load = async (cursor?: string) => {
    try {
      const { data } = await call(api.GET('/v1/incidents', { params: { query: { ...filters, limit: 50, ...(cursor ? { cursor } : {}) } } }));
      setItems((before) => (cursor ? [...(before ?? []), ...data.data] : data.data));
      setNext(data.next_cursor ?? null);
      setError(undefined);
    } catch (problem) {
      setError(problem);
    }
  };
  const key = `${status}|${severity}|${team}|${q}`;
  useEffect(() => {
    setItems(undefined);
    void load();
    // New and changed incidents appear without a reload: the first page is read again after a
    // burst of events (a change can move an incident in or out of the filtered list).
    const reload = coalesce(() => load());
    return onLive((event) => {
      if (event.type === 'resync' || event.type.startsWith('incident.')) reload();
    });
  }, [key]);

  const set = (values: Record<string, string>) => go(withQuery('#/incidents', { status, severity, team, q, ...values }), true);
  const teams = [...directory.value.teams.values()];

  function search(event: SubmitEvent) {
    event.preventDefault();
    set({ q: String(new FormData(event.currentTarget as HTMLFormElement).get('q') ?? '').trim() });
  }

  return html`<section>
    <div class="title-row">
      <h1 ref=${heading} tabindex="-1">Incidents</h1>
      <a class="button" href="#/incidents/new">New incident</a>
    </div>
    <nav class="tabs" aria-label="Incident status">
      ${tabs.map(([value, label]) => html`<a href=${withQuery('#/incidents', { status: value, severity, team, q })} aria-current=${status === value ? 'page' : undefined}>${label}</a>`)}
    </nav>
    <div class="filters">
      <div class="field">
        <label for="filter-severity">Severity</label>
        <select id="filter-severity" value=${severity} onChange=${(e: Event) => set({ severity: (e.target as HTMLSelectElement).value })}>
          <option value="">Any severity</option>
          ${['P1', 'P2', 'P3', 'P4'].map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="filter-team">Team</label>
        <select id="filter-team" value=${team} onChange=${(e: Event) => set({ team: (e.target as HTMLSelectElement).value })}>
          <option value="">Any team</option>
          ${teams.map((t) => html`<option value=${t.id}>${t.name}</option>`)}
        </select>
      </div>
      <form class="field search" role="search" onSubmit=${search}>
        <label for="filter-q">Search</label>
        <div class="inline">
          <input id="filter-q" name="q" type="search" value=${q} placeholder="Words in title or description" />
          <button type="submit">Search</button>
        </div>
      </form>
    </div>
    <${ErrorNote} error=${error} />
    ${items === undefined && !error ? html`<p class="loading">Loading incidents…</p>` : null}
    ${items && items.length === 0 ? html`<${Empty}>${emptyText(status, Boolean(severity || team || q))}<//>` : null}
    ${items && items.length > 0 ? html`<ul class="cards" aria-label="Incidents">
      ${items.map((incident) => html`<${IncidentCard} key=${incident.id} incident=${incident} />`)}
    </ul>` : null}
    ${next ? html`<button type="button" class="secondary" onClick=${() => load(next)}>Show more</button>` : null}
  </section>`;
}

function emptyText(status: string, filtered: boolean): string {
  if (filtered) return 'No incident matches these filters.';
  if (status === 'open') return 'Nothing is open. New incidents appear here as soon as they are opened.';
  if (status === 'acknowledged') return 'No incident is acknowledged and waiting to be resolved.';
  if (status === 'resolved') return 'No incident has been resolved yet.';
  return 'No incidents yet. Open one with New incident, or connect a monitoring tool under Administration, Integrations.';
}

function IncidentCard({ incident }: { incident: Incident }) {
  return html`<li class="card">
    <div class="card-head">
      <${Badge} kind="sev" value=${incident.severity} />
      <a class="card-title" href=${`#/incidents/${incident.id}`}>${incident.title}</a>
    </div>
    <div class="card-meta">
      <${Badge} kind="status" value=${incident.status} />
      <span>${teamName(incident.team_id)}</span>
      ${incident.assignee_id ? html`<span>assigned to ${userName(incident.assignee_id)}</span>` : null}
      <span>opened <${Time} iso=${incident.created_at} /></span>
    </div>
  </li>`;
}

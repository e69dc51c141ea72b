// Administration of what tools use (SPEC section 8): integrations (their URL and key shown once),
// heartbeats and API keys. The secrets are answered only by the POST that makes them.
import { useState } from 'preact/hooks';
import { all, api, call, get } from './api.ts';
import { Empty, ErrorNote, Secret, Time, directory, html, teamName, useLoad } from './ui.ts';
import { text, useCreate } from './forms.ts';

const TeamSelect = ({ id }: { id: string }) => html`<label for=${id}>Team</label>
  <select id=${id} name="team_id">
    <option value="">No team (nobody is paged)</option>
    ${[...directory.value.teams.values()].map((t) => html`<option value=${t.id}>${t.name}</option>`)}
  </select>`;

/** The API answers intake URLs as paths; people copy them whole. */
const absolute = (path: string) => new URL(path, location.href).href;

function Shown({ intro, secrets }: { intro: string; secrets: [string, string][] }) {
  return html`<div class="note ok" role="status">
    <p>${intro} Copy ${secrets.length > 1 ? 'them' : 'it'} now: ${secrets.length > 1 ? 'they are' : 'it is'} shown only once.</p>
    ${secrets.map(([label, value]) => html`<${Secret} label=${label} value=${value} />`)}
  </div>`;
}

export function Integrations() {
  const list = useLoad(() => all((cursor) => get(api.GET('/v1/integrations', { params: { query: { limit: 500, cursor } } }))), []);
  const create = useCreate();
  const [made, setMade] = useState<{ name: string; type: string; url: string; key: string }>();
  const [error, setError] = useState<unknown>();
  async function remove(id: string) {
    try {
      await call(api.DELETE('/v1/integrations/{id}', { params: { path: { id } } }));
      await list.reload();
    } catch (problem) {
      setError(problem);
    }
  }
  return html`<div class="admin">
    ${made ? html`<${Shown} intro=${made.type === 'alertmanager'
      ? `Integration ${made.name} is ready. Put this URL in a webhook_configs entry of Alertmanager (the key is part of it).`
      : `Integration ${made.name} is ready. Tools send events to this URL with the key as routing_key.`} secrets=${[['URL', made.url], ['Key', made.key]]} />` : null}
    <${ErrorNote} error=${list.error ?? error} />
    ${list.data?.length === 0 ? html`<${Empty}>No integrations yet. Connect Alertmanager or any PagerDuty Events v2 tool below.<//>` : null}
    ${list.data?.length ? html`<ul class="cards">${list.data.map((i) => html`<li class="card row">
      <div><strong>${i.name}</strong> <span class="muted">${i.type} · ${teamName(i.team_id)} · key ${i.key_prefix}…</span></div>
      <button type="button" class="small secondary" aria-label=${`Delete integration ${i.name}`} onClick=${() => remove(i.id)}>Delete</button>
    </li>`)}</ul>` : null}
    <h2>Add an integration</h2>
    <form class="narrow" onSubmit=${create.submit(async (form) => {
      const team = text(form, 'team_id');
      const { data } = await call(api.POST('/v1/integrations', {
        body: { type: text(form, 'type') as 'events_v2', name: text(form, 'name'), ...(team ? { team_id: team } : {}) },
      }));
      setMade({ name: data.name, type: data.type, url: absolute(data.url), key: data.key });
      await list.reload();
    })}>
      <label for="integration-type">Type</label>
      <select id="integration-type" name="type"><option value="events_v2">Events API v2 (PagerDuty compatible)</option><option value="alertmanager">Prometheus Alertmanager</option></select>
      <label for="integration-name">Name</label>
      <input id="integration-name" name="name" required />
      <${TeamSelect} id="integration-team" />
      <${ErrorNote} error=${create.error} />
      <button type="submit" disabled=${create.busy}>Add integration</button>
    </form>
  </div>`;
}

export function Heartbeats() {
  const list = useLoad(() => all((cursor) => get(api.GET('/v1/heartbeats', { params: { query: { limit: 500, cursor } } }))), []);
  const create = useCreate();
  const [made, setMade] = useState<{ name: string; url: string }>();
  const [error, setError] = useState<unknown>();
  async function remove(id: string) {
    try {
      await call(api.DELETE('/v1/heartbeats/{id}', { params: { path: { id } } }));
      await list.reload();
    } catch (problem) {
      setError(problem);
    }
  }
  return html`<div class="admin">
    ${made ? html`<${Shown} intro=${`Heartbeat ${made.name} is ready: have the job call this URL (POST or GET) at least once per interval.`} secrets=${[['Ping URL', made.url]]} />` : null}
    <${ErrorNote} error=${list.error ?? error} />
    ${list.data?.length === 0 ? html`<${Empty}>No heartbeats yet. A heartbeat opens an incident when a job stops checking in.<//>` : null}
    ${list.data?.length ? html`<ul class="cards">${list.data.map((b) => html`<li class="card row">
      <div><strong>${b.name}</strong> <span class="muted">${b.status} · every ${b.interval_seconds} s · last ping <${Time} iso=${b.last_ping_at} /> · ${teamName(b.team_id)}</span>
        ${b.incident_id ? html` <a href=${`#/incidents/${b.incident_id}`}>its incident</a>` : null}</div>
      <button type="button" class="small secondary" aria-label=${`Delete heartbeat ${b.name}`} onClick=${() => remove(b.id)}>Delete</button>
    </li>`)}</ul>` : null}
    <h2>Add a heartbeat</h2>
    <form class="narrow" onSubmit=${create.submit(async (form) => {
      const team = text(form, 'team_id');
      const { data } = await call(api.POST('/v1/heartbeats', {
        body: { name: text(form, 'name'), interval_seconds: Number(text(form, 'interval')), ...(team ? { team_id: team } : {}) },
      }));
      setMade({ name: data.name, url: absolute(data.url) });
      await list.reload();
    })}>
      <label for="heartbeat-name">Name</label>
      <input id="heartbeat-name" name="name" required />
      <label for="heartbeat-interval">Interval (seconds)</label>
      <input id="heartbeat-interval" name="interval" type="number" min="1" value="300" required />
      <${TeamSelect} id="heartbeat-team" />
      <${ErrorNote} error=${create.error} />
      <button type="submit" disabled=${create.busy}>Add heartbeat</button>
    </form>
  </div>`;
}

export function ApiKeys() {
  const list = useLoad(() => all((cursor) => get(api.GET('/v1/api-keys', { params: { query: { limit: 500, cursor } } }))), []);
  const create = useCreate();
  const [made, setMade] = useState<{ name: string; key: string }>();
  const [error, setError] = useState<unknown>();
  async function revoke(id: string) {
    try {
      await call(api.DELETE('/v1/api-keys/{id}', { params: { path: { id } } }));
      await list.reload();
    } catch (problem) {
      setError(problem);
    }
  }
  return html`<div class="admin">
    ${made ? html`<${Shown} intro=${`API key ${made.name} is ready.`} secrets=${[['Key', made.key]]} />` : null}
    <${ErrorNote} error=${list.error ?? error} />
    ${list.data?.length === 0 ? html`<${Empty}>No API keys yet.<//>` : null}
    ${list.data?.length ? html`<ul class="cards">${list.data.map((k) => html`<li class="card row">
      <div><strong>${k.name}</strong> <span class="muted">${k.scopes.join(', ')} · ${k.key_prefix}… · made <${Time} iso=${k.created_at} /></span></div>
      <button type="button" class="small secondary" aria-label=${`Revoke API key ${k.name}`} onClick=${() => revoke(k.id)}>Revoke</button>
    </li>`)}</ul>` : null}
    <h2>Add an API key</h2>
    <form class="narrow" onSubmit=${create.submit(async (form) => {
      const { data } = await call(api.POST('/v1/api-keys', {
        body: { name: text(form, 'name'), scopes: form.getAll('scopes').map(String) as ('read' | 'write' | 'admin')[] },
      }));
      setMade({ name: data.name, key: data.key });
      await list.reload();
    })}>
      <label for="key-name">Name</label>
      <input id="key-name" name="name" required />
      <fieldset class="picker"><legend>Scopes</legend>
        ${['read', 'write', 'admin'].map((scope) => html`<label class="check"><input type="checkbox" name="scopes" value=${scope} checked=${scope === 'read'} /> ${scope}</label>`)}
      </fieldset>
      <${ErrorNote} error=${create.error} />
      <button type="submit" disabled=${create.busy}>Add API key</button>
    </form>
  </div>`;
}

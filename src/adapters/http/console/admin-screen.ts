// Administration (SPEC section 8): users (with invitations), teams and escalation policies here;
// schedules, integrations, heartbeats and API keys in their own files.
import { useState } from 'preact/hooks';
import { api, call, type User } from './api.ts';
import { ErrorNote, Empty, Notice, Secret, directory, html, useFocusHeading, userName, when } from './ui.ts';
import { Schedules } from './schedules-screen.ts';
import { ApiKeys, Heartbeats, Integrations } from './admin-tools-screen.ts';
import { PeoplePicker, text, useCreate } from './forms.ts';

const sections = [
  ['users', 'Users'], ['teams', 'Teams'], ['policies', 'Escalation policies'], ['schedules', 'Schedules'],
  ['integrations', 'Integrations'], ['heartbeats', 'Heartbeats'], ['api-keys', 'API keys'],
] as const;

export function Admin({ section, detail, isAdmin }: { section: string; detail?: string; isAdmin: boolean }) {
  const heading = useFocusHeading();
  const title = sections.find(([id]) => id === section)?.[1] ?? 'Administration';
  return html`<section>
    <h1 ref=${heading} tabindex="-1">${title}</h1>
    <nav class="tabs" aria-label="Administration">
      ${sections.map(([id, label]) => html`<a href=${`#/admin/${id}`} aria-current=${id === section ? 'page' : undefined}>${label}</a>`)}
    </nav>
    ${!isAdmin && section !== 'schedules' ? html`<p class="note warn">These pages need the admin role; what you cannot change is refused with a message.</p>` : null}
    ${section === 'users' ? html`<${Users} />` : null}
    ${section === 'teams' ? html`<${Teams} />` : null}
    ${section === 'policies' ? html`<${Policies} />` : null}
    ${section === 'schedules' ? html`<${Schedules} selected=${detail} />` : null}
    ${section === 'integrations' ? html`<${Integrations} />` : null}
    ${section === 'heartbeats' ? html`<${Heartbeats} />` : null}
    ${section === 'api-keys' ? html`<${ApiKeys} />` : null}
  </section>`;
}

function Users() {
  const users = [...directory.value.users.values()];
  const create = useCreate();
  const [invite, setInvite] = useState<{ name: string; url: string; expires_at: string }>();
  const [inviteError, setInviteError] = useState<unknown>();

  async function sendInvite(user: User) {
    setInviteError(undefined);
    try {
      const { data } = await call(api.POST('/v1/users/{id}/invite', { params: { path: { id: user.id } } }));
      setInvite({ name: user.name, url: data.url, expires_at: data.expires_at });
    } catch (problem) {
      setInviteError(problem);
    }
  }

  return html`<div class="admin">
    <h2>People</h2>
    ${invite ? html`<div class="note ok" role="status">
      <p>Send this link to ${invite.name}. It works once, until ${when(invite.expires_at)}, and is shown only now.</p>
      <${Secret} label="Invitation link" value=${invite.url} />
    </div>` : null}
    <${ErrorNote} error=${inviteError} />
    ${users.length === 0 ? html`<${Empty}>No users yet. Add the first below.<//>` : html`<ul class="cards">
      ${users.map((u) => html`<li class="card row">
        <div><strong>${u.name}</strong> <span class="muted">${u.email} · ${u.role ?? 'responder'}</span></div>
        <button type="button" class="small" onClick=${() => sendInvite(u)} aria-label=${`Invite ${u.name}`}>Invite</button>
      </li>`)}
    </ul>`}
    <h2>Add a user</h2>
    <form class="narrow" onSubmit=${create.submit(async (form, key) => {
      await call(api.POST('/v1/users', {
        params: { header: { 'idempotency-key': key } },
        body: { name: text(form, 'name'), email: text(form, 'email'), role: text(form, 'role') as 'responder' },
      }));
    })}>
      <label for="user-name">Name</label>
      <input id="user-name" name="name" required />
      <label for="user-email">Email</label>
      <input id="user-email" name="email" type="email" required />
      <label for="user-role">Role</label>
      <select id="user-role" name="role"><option value="responder">Responder</option><option value="admin">Administrator</option></select>
      <${ErrorNote} error=${create.error} />
      <button type="submit" disabled=${create.busy}>Add user</button>
    </form>
  </div>`;
}

function Teams() {
  const { teams, users, policies } = directory.value;
  const create = useCreate();
  const [made, setMade] = useState('');
  return html`<div class="admin">
    ${teams.size === 0 ? html`<${Empty}>No teams yet. A team's incidents page its escalation policy.<//>` : html`<ul class="cards">
      ${[...teams.values()].map((t) => html`<li class="card">
        <strong>${t.name}</strong>
        <p class="muted">Members: ${t.member_ids.map(userName).join(', ') || 'none'} · Policy: ${t.escalation_policy_id ? policies.get(t.escalation_policy_id)?.name ?? '?' : 'none (nobody is paged)'}</p>
      </li>`)}
    </ul>`}
    <h2>Add a team</h2>
    ${made ? html`<${Notice}>Team ${made} added.<//>` : null}
    <form class="narrow" onSubmit=${create.submit(async (form, key) => {
      const name = text(form, 'name');
      const policy = text(form, 'escalation_policy_id');
      await call(api.POST('/v1/teams', {
        params: { header: { 'idempotency-key': key } },
        body: { name, member_ids: form.getAll('member_ids').map(String), ...(policy ? { escalation_policy_id: policy } : {}) },
      }));
      setMade(name);
    })}>
      <label for="team-name">Name</label>
      <input id="team-name" name="name" required />
      <${PeoplePicker} name="member_ids" legend="Members" users=${[...users.values()]} />
      <label for="team-policy">Escalation policy</label>
      <select id="team-policy" name="escalation_policy_id">
        <option value="">None</option>
        ${[...policies.values()].map((p) => html`<option value=${p.id}>${p.name}</option>`)}
      </select>
      <${ErrorNote} error=${create.error} />
      <button type="submit" disabled=${create.busy}>Add team</button>
    </form>
  </div>`;
}

function Policies() {
  const { policies, users, schedules } = directory.value;
  const create = useCreate();
  const [levels, setLevels] = useState(1);
  const [made, setMade] = useState('');
  return html`<div class="admin">
    ${policies.size === 0 ? html`<${Empty}>No escalation policies yet.<//>` : html`<ul class="cards">
      ${[...policies.values()].map((p) => html`<li class="card">
        <strong>${p.name}</strong>${p.repeat ? html` <span class="muted">repeats ${p.repeat} time(s)</span>` : null}
        <ol class="levels">${p.levels.map((l) => html`<li>${l.level === 0 ? 'At once' : `After ${l.delay_seconds} s`}: ${[
          ...l.user_ids.map(userName), ...l.schedule_ids.map((id) => `on call in ${schedules.get(id)?.name ?? 'a schedule'}`),
        ].join(', ') || 'nobody'}</li>`)}</ol>
      </li>`)}
    </ul>`}
    <h2>Add an escalation policy</h2>
    ${made ? html`<${Notice}>Policy ${made} added.<//>` : null}
    <form class="narrow" onSubmit=${create.submit(async (form, key) => {
      const name = text(form, 'name');
      await call(api.POST('/v1/escalation-policies', {
        params: { header: { 'idempotency-key': key } },
        body: {
          name,
          repeat: Number(text(form, 'repeat') || 0),
          levels: Array.from({ length: levels }, (_, i) => ({
            delay_seconds: i === 0 ? 0 : Number(text(form, `delay-${i}`) || 0),
            user_ids: form.getAll(`users-${i}`).map(String),
            schedule_ids: form.getAll(`schedules-${i}`).map(String),
          })),
        },
      }));
      setMade(name);
      setLevels(1);
    })}>
      <label for="policy-name">Name</label>
      <input id="policy-name" name="name" required />
      <label for="policy-repeat">Repeat (times, 0 to 9)</label>
      <input id="policy-repeat" name="repeat" type="number" min="0" max="9" value="0" />
      ${Array.from({ length: levels }, (_, i) => html`<fieldset class="level">
        <legend>Level ${i + 1}</legend>
        ${i > 0 ? html`<label for=${`delay-${i}`}>Delay after the previous level (seconds)</label>
          <input id=${`delay-${i}`} name=${`delay-${i}`} type="number" min="0" value="300" />` : html`<p class="muted">Paged at once.</p>`}
        <${PeoplePicker} name=${`users-${i}`} legend="Users" users=${[...users.values()]} />
        <fieldset class="picker"><legend>Schedules</legend>
          ${schedules.size === 0 ? html`<p class="muted">No schedules yet.</p>` : [...schedules.values()].map((s) => html`<label class="check"><input type="checkbox" name=${`schedules-${i}`} value=${s.id} /> ${s.name}</label>`)}
        </fieldset>
      </fieldset>`)}
      <div class="actions">
        <button type="button" class="secondary" onClick=${() => setLevels(levels + 1)}>Add level</button>
        ${levels > 1 ? html`<button type="button" class="secondary" onClick=${() => setLevels(levels - 1)}>Remove last level</button>` : null}
      </div>
      <${ErrorNote} error=${create.error} />
      <button type="submit" disabled=${create.busy}>Add policy</button>
    </form>
  </div>`;
}

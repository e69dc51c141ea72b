// Create an incident (SPEC section 8). A team with an escalation policy is paged at once.
import { useState } from 'preact/hooks';
import { api, call } from './api.ts';
import { go } from './router.ts';
import { ErrorNote, directory, html, newKey, useFocusHeading } from './ui.ts';

export function NewIncident() {
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [key] = useState(newKey);
  const heading = useFocusHeading();
  const { users, teams } = directory.value;

  async function submit(event: SubmitEvent) {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const text = (name: string) => String(form.get(name) ?? '').trim();
    setBusy(true);
    try {
      const { data } = await call(api.POST('/v1/incidents', {
        params: { header: { 'idempotency-key': key } },
        body: {
          title: text('title'),
          ...(text('description') ? { description: text('description') } : {}),
          severity: text('severity') as 'P3',
          ...(text('team_id') ? { team_id: text('team_id') } : {}),
          ...(text('assignee_id') ? { assignee_id: text('assignee_id') } : {}),
        },
      }));
      go(`#/incidents/${data.id}`);
    } catch (problem) {
      setError(problem);
      setBusy(false);
    }
  }

  return html`<section class="narrow">
    <h1 ref=${heading} tabindex="-1">New incident</h1>
    <form onSubmit=${submit}>
      <label for="new-title">Title</label>
      <input id="new-title" name="title" required maxlength="200" />
      <label for="new-description">Description</label>
      <textarea id="new-description" name="description" rows="4" maxlength="20000"></textarea>
      <label for="new-severity">Severity</label>
      <select id="new-severity" name="severity" value="P3">
        <option value="P1">P1 (critical)</option>
        <option value="P2">P2 (high)</option>
        <option value="P3">P3 (moderate)</option>
        <option value="P4">P4 (low)</option>
      </select>
      <label for="new-team">Team</label>
      <select id="new-team" name="team_id">
        <option value="">No team (nobody is paged)</option>
        ${[...teams.values()].map((t) => html`<option value=${t.id}>${t.name}</option>`)}
      </select>
      <label for="new-assignee">Assignee</label>
      <select id="new-assignee" name="assignee_id">
        <option value="">Nobody</option>
        ${[...users.values()].map((u) => html`<option value=${u.id}>${u.name}</option>`)}
      </select>
      <${ErrorNote} error=${error} />
      <div class="actions">
        <button type="submit" disabled=${busy}>Open incident</button>
        <a class="button secondary" href="#/incidents">Cancel</a>
      </div>
    </form>
  </section>`;
}

// Pieces of the administration forms.
import { useState } from 'preact/hooks';
import type { User } from './api.ts';
import { html, loadDirectory, newKey } from './ui.ts';

/** A create form's submit: runs `send`, shows its error, reloads the directory, resets the form. */
export function useCreate() {
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [key, setKey] = useState(newKey);
  const submit = (send: (form: FormData, key: string) => Promise<void>) => async (event: SubmitEvent) => {
    event.preventDefault();
    const element = event.currentTarget as HTMLFormElement;
    setBusy(true);
    setError(undefined);
    try {
      await send(new FormData(element), key);
      element.reset();
      setKey(newKey());
      await loadDirectory();
    } catch (problem) {
      setError(problem);
    }
    setBusy(false);
  };
  return { error, busy, submit };
}

export const text = (form: FormData, name: string) => String(form.get(name) ?? '').trim();

/** Checkboxes naming people, for a team's members or a level's users. */
export const PeoplePicker = ({ name, legend, users }: { name: string; legend: string; users: User[] }) => html`<fieldset class="picker">
  <legend>${legend}</legend>
  ${users.length === 0 ? html`<p class="muted">No users yet.</p>` : users.map((u) => html`<label class="check"><input type="checkbox" name=${name} value=${u.id} /> ${u.name}</label>`)}
</fieldset>`;


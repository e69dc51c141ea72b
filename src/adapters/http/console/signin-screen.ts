// Sign-in (SPEC section 10): email and password for a session cookie.
import { useState } from 'preact/hooks';
import { api, call, type User } from './api.ts';
import { ErrorNote, html, useFocusHeading } from './ui.ts';

export function SignIn({ onSignedIn }: { onSignedIn: (user: User) => void }) {
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const heading = useFocusHeading();

  async function submit(event: SubmitEvent) {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(undefined);
    try {
      const { data } = await call(api.POST('/v1/sessions', { body: { email: String(form.get('email')), password: String(form.get('password')) } }));
      onSignedIn(data.user);
    } catch (problem) {
      setError(problem);
      setBusy(false);
    }
  }

  return html`<section class="signin">
    <h1 ref=${heading} tabindex="-1">Sign in to Tocsin</h1>
    <form onSubmit=${submit}>
      <label for="signin-email">Email</label>
      <input id="signin-email" name="email" type="email" autocomplete="username" required />
      <label for="signin-password">Password</label>
      <input id="signin-password" name="password" type="password" autocomplete="current-password" required />
      <${ErrorNote} error=${error} />
      <button type="submit" disabled=${busy}>Sign in</button>
    </form>
    <p class="hint">No password yet? An administrator sends you an invitation link.</p>
  </section>`;
}

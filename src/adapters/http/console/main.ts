// The console's entry point: who is signed in, the layout, the connection banner and the routes.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { effect } from '@preact/signals';
import { Problem, api, call, signedOut, problemText, type User } from './api.ts';
import { connection, onLive, startLive, stopLive } from './live.ts';
import { html, loadDirectory } from './ui.ts';
import { me, route } from './router.ts';
import { SignIn } from './signin-screen.ts';
import { IncidentList } from './incidents-screen.ts';
import { NewIncident } from './new-incident-screen.ts';
import { IncidentPage } from './incident-screen.ts';
import { NotificationList, NotificationPage } from './notifications-screen.ts';
import { OnCall } from './on-call-screen.ts';
import { Admin } from './admin-screen.ts';

/** Who is signed in: a 401 means nobody (the sign-in page); anything else is said as an error. */
async function whoAmI() {
  try {
    const { data } = await call(api.GET('/v1/me'));
    me.value = data;
  } catch (problem) {
    if (problem instanceof Problem && problem.status === 401) me.value = null;
    else throw problem;
  }
}

async function signOut() {
  try {
    await call(api.DELETE('/v1/sessions/current'));
  } catch {
    // Signed out already, or unreachable: the page forgets the session either way.
  }
  me.value = null;
}

/**
 * The directory (people, teams, policies, schedules) loads at sign-in; again each time the live
 * connection opens after a loss, for what administrators changed meanwhile (the feed carries no
 * directory changes); and again 3 s after a load that failed, until one succeeds: the screens
 * that name people or draw a schedule stayed empty after one failed request.
 */
let directoryLoad: Promise<void> | undefined;
let directoryRetry: ReturnType<typeof setTimeout> | undefined;
function refreshDirectory(): void {
  clearTimeout(directoryRetry);
  directoryLoad ??= loadDirectory().then(
    () => {
      directoryLoad = undefined;
    },
    () => {
      directoryLoad = undefined;
      if (me.value) directoryRetry = setTimeout(refreshDirectory, 3000);
    },
  );
}
onLive((event) => {
  if (event.type === 'resync' && me.value) refreshDirectory();
});

// Start following changes once someone is signed in; stop when they sign out.
effect(() => {
  if (me.value) {
    startLive();
    refreshDirectory();
  } else if (me.value === null) {
    stopLive();
    clearTimeout(directoryRetry);
  }
});
effect(() => {
  if (signedOut.value > 0) me.value = null;
});

const nav: [string, string][] = [['#/incidents', 'Incidents'], ['#/notifications', 'Notifications'], ['#/on-call', 'On call']];

function Banner() {
  const state = connection.value;
  if (state !== 'lost') return null;
  return html`<div class="banner" role="status">Connection lost. Reconnecting… Changes made meanwhile will appear when it is back.</div>`;
}

function Screen({ user }: { user: User }) {
  const { path, query } = route.value;
  const [first = 'incidents', second, third] = path;
  if (first === 'incidents' && second === 'new') return html`<${NewIncident} />`;
  if (first === 'incidents' && second) return html`<${IncidentPage} key=${second} id=${second} />`;
  if (first === 'notifications' && second) return html`<${NotificationPage} key=${second} id=${second} />`;
  if (first === 'notifications') return html`<${NotificationList} query=${query} />`;
  if (first === 'on-call') return html`<${OnCall} />`;
  if (first === 'admin') return html`<${Admin} section=${second ?? 'users'} detail=${third} isAdmin=${user.role === 'admin'} />`;
  return html`<${IncidentList} query=${query} />`;
}

function Layout({ user }: { user: User }) {
  const current = `#/${route.value.path[0] ?? 'incidents'}`;
  const links = user.role === 'admin' ? [...nav, ['#/admin', 'Administration'] as [string, string]] : nav;
  return html`
    <a class="skip" href="#main" onClick=${(e: Event) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/incidents">Tocsin</a>
      <nav aria-label="Main">
        <ul>
          ${links.map(([href, label]) => html`<li><a href=${href} aria-current=${current === href ? 'page' : undefined}>${label}</a></li>`)}
        </ul>
      </nav>
      <div class="who">
        <span>${user.name}</span>
        <button type="button" class="link" onClick=${signOut}>Sign out</button>
      </div>
    </header>
    <${Banner} />
    <main id="main" tabindex="-1"><${Screen} user=${user} /></main>`;
}

function App() {
  const [error, setError] = useState<unknown>();
  useEffect(() => { whoAmI().catch(setError); }, []);
  const user = me.value;
  if (error) {
    return html`<main id="main"><p class="note error" role="alert">${problemText(error)}</p>
      <button type="button" onClick=${() => { setError(undefined); whoAmI().catch(setError); }}>Try again</button></main>`;
  }
  if (user === undefined) return html`<p class="loading">Loading Tocsin…</p>`;
  if (user === null) return html`<main id="main"><${SignIn} onSignedIn=${(signed: User) => { me.value = signed; }} /></main>`;
  return html`<${Layout} user=${user} />`;
}

render(html`<${App} />`, document.getElementById('app')!);

// Small shared pieces of the console: the htm binding, formatting, messages and the directory of
// people and teams that most screens name.
import { h, type ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { signal } from '@preact/signals';
import htm from 'htm';
import { all, api, get, problemText, type Policy, type Schedule, type Team, type User } from './api.ts';

export const html = htm.bind(h);

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

export function when(iso: string | null | undefined): string {
  return iso ? dateTime.format(new Date(iso)) : '—';
}

export function ago(iso: string, now = Date.now()): string {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const steps: [number, Intl.RelativeTimeFormatUnit][] = [[60, 'second'], [3600, 'minute'], [86400, 'hour'], [Infinity, 'day']];
  let unit: Intl.RelativeTimeFormatUnit = 'second';
  let size = 1;
  for (const [limit, name] of steps) {
    unit = name;
    if (Math.abs(seconds) < limit) break;
    size = limit;
  }
  return relative.format(Math.round(seconds / size), unit);
}

export const Time = ({ iso }: { iso: string | null | undefined }) =>
  iso ? html`<time datetime=${iso} title=${when(iso)}>${ago(iso)}</time>` : html`<span>—</span>`;

/** An error said as a sentence, announced to screen readers. */
export const ErrorNote = ({ error }: { error: unknown }) =>
  error ? html`<p class="note error" role="alert">${problemText(error)}</p>` : null;

export const Notice = ({ children }: { children: ComponentChildren }) => html`<p class="note ok" role="status">${children}</p>`;

export const Empty = ({ children }: { children: ComponentChildren }) => html`<p class="empty">${children}</p>`;

export const Badge = ({ kind, value }: { kind: string; value: string }) => html`<span class=${`badge ${kind}-${value}`}>${value}</span>`;

/** A secret shown once (an integration's key, a new API key, an invite link), with a copy button. */
export function Secret({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState(false);
  return html`<div class="secret">
    <span class="secret-label">${label}</span>
    <code>${value}</code>
    <button type="button" class="small" onClick=${() => navigator.clipboard?.writeText(value).then(() => setCopied(true), () => undefined)}>
      ${copied ? 'Copied' : 'Copy'}
    </button>
  </div>`;
}

/** Runs `load` now and whenever `deps` change; its state, its error and a way to run it again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const generation = useRef(0);
  const run = () => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    return load().then(
      (data) => { if (mine === generation.current) setState({ data, loading: false }); },
      (error: unknown) => { if (mine === generation.current) setState((s) => ({ ...s, error, loading: false })); },
    );
  };
  useEffect(() => { void run(); }, deps);
  return { ...state, reload: run };
}

/** Moves focus to the page's heading when a screen opens, so keyboard and screen-reader users start there. */
export function useFocusHeading() {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => { ref.current?.focus(); }, []);
  return ref;
}

/**
 * Runs `run` at once, and while it runs collapses every further call into one more run after it:
 * the first live event of a burst is shown without delay, and a burst costs two reloads, not one
 * per event.
 */
export function coalesce(run: () => Promise<unknown>) {
  let running = false;
  let again = false;
  const go = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await run();
    } catch {
      // The screen shows its own errors; a failed reload is retried by the next event.
    } finally {
      running = false;
      if (again) {
        again = false;
        void go();
      }
    }
  };
  return () => void go();
}

/** People, teams, policies and schedules by id, loaded once and again after an administrator changes them. */
export const directory = signal<{ users: Map<string, User>; teams: Map<string, Team>; policies: Map<string, Policy>; schedules: Map<string, Schedule> }>({
  users: new Map(), teams: new Map(), policies: new Map(), schedules: new Map(),
});

export async function loadDirectory(): Promise<void> {
  const byId = <T extends { id: string }>(items: T[]) => new Map(items.map((item) => [item.id, item]));
  const [users, teams, policies, schedules] = await Promise.all([
    all((cursor) => get(api.GET('/v1/users', { params: { query: { limit: 500, cursor } } }))),
    all((cursor) => get(api.GET('/v1/teams', { params: { query: { limit: 500, cursor } } }))),
    all((cursor) => get(api.GET('/v1/escalation-policies', { params: { query: { limit: 500, cursor } } }))),
    all((cursor) => get(api.GET('/v1/schedules', { params: { query: { limit: 500, cursor } } }))),
  ]);
  directory.value = { users: byId(users), teams: byId(teams), policies: byId(policies), schedules: byId(schedules) };
}

export const userName = (id: string | null | undefined) => (id ? directory.value.users.get(id)?.name ?? 'a deleted user' : 'nobody');
export const teamName = (id: string | null | undefined) => (id ? directory.value.teams.get(id)?.name ?? 'a deleted team' : 'no team');

/** Who did something, from a timeline actor (SPEC section 3: `user:<id>`, `api_key:<name>`, ...). */
export function actorName(actor: string, name?: string | null): string {
  if (name) return name;
  const [kind, rest = ''] = actor.split(/:(.*)/s);
  if (kind === 'user') return userName(rest);
  if (kind === 'api_key') return `API key “${rest}”`;
  if (kind === 'integration') return `integration “${rest}”`;
  if (kind === 'heartbeat') return `heartbeat “${rest}”`;
  if (actor === 'tocsin') return 'Tocsin';
  return actor;
}

/** A stable colour per person, for the schedule timeline. */
export function colourOf(id: string): string {
  let hash = 0;
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return `hsl(${hash % 360} 65% 45%)`;
}

/** A fresh Idempotency-Key per form, so a double submit or a retry creates one thing. */
export const newKey = () => crypto.randomUUID();

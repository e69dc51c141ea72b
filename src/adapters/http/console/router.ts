// Where the console is: the route in the fragment (#/incidents/...), and who is signed in. The
// fragment keeps the server to one page and makes every screen a link that survives a reload.
import { signal } from '@preact/signals';
import type { User } from './api.ts';

/** The signed-in person: undefined while asking, null when signed out. */
export const me = signal<User | null | undefined>(undefined);

export interface Route {
  path: string[];
  query: URLSearchParams;
}

function parseRoute(): Route {
  const [path = '', query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  return { path: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query) };
}

export const route = signal<Route>(parseRoute());
addEventListener('hashchange', () => { route.value = parseRoute(); });

/** Goes to a route; `replace` keeps filter changes out of the history. */
export function go(hash: string, replace = false) {
  if (replace) history.replaceState(null, '', hash);
  else location.hash = hash;
  route.value = parseRoute();
}

/** A route's fragment with a query, leaving out empty values. */
export function withQuery(path: string, values: Record<string, string | undefined>): string {
  const query = new URLSearchParams(Object.entries(values).filter((entry): entry is [string, string] => Boolean(entry[1])));
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

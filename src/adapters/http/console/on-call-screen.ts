// On call now (SPEC section 8): who is on call in each schedule, and whom each level of each
// escalation policy would page now (its users, and whoever is on call in its schedules).
import { api, get } from './api.ts';
import { Empty, ErrorNote, directory, html, useFocusHeading, useLoad, userName, when } from './ui.ts';

export function OnCall() {
  const heading = useFocusHeading();
  const { schedules, policies, teams } = directory.value;
  const onCall = useLoad(async () => {
    const answers = await Promise.all([...schedules.keys()].map(async (id) =>
      [id, await get(api.GET('/v1/schedules/{id}/on-call', { params: { path: { id }, query: {} } }))] as const));
    return new Map(answers);
  }, [schedules]);

  const now = onCall.data;
  const who = (ids: string[]) => (ids.length ? ids.map(userName).join(', ') : 'nobody');
  return html`<section>
    <h1 ref=${heading} tabindex="-1">On call now</h1>
    <${ErrorNote} error=${onCall.error} />
    <h2>Schedules</h2>
    ${schedules.size === 0 ? html`<${Empty}>No schedules yet. An administrator adds them under Administration, Schedules.<//>` : html`<ul class="cards">
      ${[...schedules.values()].map((s) => {
        const answer = now?.get(s.id);
        return html`<li class="card">
          <div class="card-head"><a class="card-title" href=${`#/admin/schedules/${s.id}`}>${s.name}</a></div>
          <p>${answer ? html`<strong>${who(answer.user_ids)}</strong>${answer.until ? ` until ${when(answer.until)}` : ''}` : 'Loading…'}</p>
        </li>`;
      })}
    </ul>`}
    <h2>Escalation policies</h2>
    ${policies.size === 0 ? html`<${Empty}>No escalation policies yet.<//>` : html`<ul class="cards">
      ${[...policies.values()].map((p) => {
        const usedBy = [...teams.values()].filter((t) => t.escalation_policy_id === p.id).map((t) => t.name);
        return html`<li class="card">
          <div class="card-head"><span class="card-title">${p.name}</span></div>
          <p class="muted">${usedBy.length ? `Pages for ${usedBy.join(', ')}` : 'No team uses it'}${p.repeat ? `; repeats ${p.repeat} time(s)` : ''}</p>
          <ol class="levels">
            ${p.levels.map((level) => {
              const fromSchedules = level.schedule_ids.flatMap((id) => now?.get(id)?.user_ids ?? []);
              const people = [...new Set([...level.user_ids, ...fromSchedules])];
              return html`<li>
                <strong>Level ${level.level + 1}</strong> ${`${level.level === 0 ? 'at once' : `after ${Math.round(level.delay_seconds / 60)} min`}: ${who(people)}`}
                ${level.schedule_ids.length ? html` <span class="muted">(from ${level.schedule_ids.map((id) => schedules.get(id)?.name ?? 'a schedule').join(', ')})</span>` : null}
              </li>`;
            })}
          </ol>
        </li>`;
      })}
    </ul>`}
  </section>`;
}

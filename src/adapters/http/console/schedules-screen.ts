// Schedules (SPEC sections 8 and 11): the list, a simple rotation form, and a schedule's final
// schedule for the coming week drawn as a timeline (with the same entries as a table for screen
// readers and small screens).
import { api, call, get, type Schedule } from './api.ts';
import { Empty, ErrorNote, colourOf, directory, html, useLoad, userName, when } from './ui.ts';
import { PeoplePicker, text, useCreate } from './forms.ts';

const DAY = 24 * 3600 * 1000;

export function Schedules({ selected }: { selected?: string }) {
  const { schedules, users } = directory.value;
  const create = useCreate();
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const chosen = selected ? schedules.get(selected) : undefined;
  return html`<div class="admin">
    ${schedules.size === 0 ? html`<${Empty}>No schedules yet. Add a rotation below.<//>` : html`<ul class="cards">
      ${[...schedules.values()].map((s) => html`<li class="card row">
        <div><a class="card-title" href=${`#/admin/schedules/${s.id}`} aria-current=${s.id === selected ? 'true' : undefined}>${s.name}</a>
          <span class="muted"> ${s.time_zone} · ${s.layers.length} layer(s)</span></div>
      </li>`)}
    </ul>`}
    ${chosen ? html`<${FinalSchedule} key=${chosen.id} schedule=${chosen} />` : null}
    <h2>Add a rotation</h2>
    <form class="narrow" onSubmit=${create.submit(async (form, key) => {
      await call(api.POST('/v1/schedules', {
        params: { header: { 'idempotency-key': key } },
        body: {
          name: text(form, 'name'),
          time_zone: text(form, 'time_zone'),
          layers: [{
            name: 'rotation',
            user_ids: form.getAll('user_ids').map(String),
            start: text(form, 'start'),
            turn: { count: Number(text(form, 'count')), unit: text(form, 'unit') as 'week' },
          }],
        },
      }));
    })}>
      <label for="schedule-name">Name</label>
      <input id="schedule-name" name="name" required />
      <label for="schedule-zone">Time zone</label>
      <input id="schedule-zone" name="time_zone" required value=${zone} />
      <${PeoplePicker} name="user_ids" legend="People, taking turns in this order" users=${[...users.values()]} />
      <label for="schedule-start">First handoff (local time)</label>
      <input id="schedule-start" name="start" type="datetime-local" required value=${new Date(Date.now() - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 11) + '09:00'} />
      <div class="inline">
        <div class="field"><label for="schedule-count">Turns of</label><input id="schedule-count" name="count" type="number" min="1" value="1" /></div>
        <div class="field"><label for="schedule-unit">Unit</label>
          <select id="schedule-unit" name="unit"><option value="week">weeks</option><option value="day">days</option><option value="hour">hours</option></select></div>
      </div>
      <${ErrorNote} error=${create.error} />
      <button type="submit" disabled=${create.busy}>Add schedule</button>
    </form>
  </div>`;
}

function FinalSchedule({ schedule }: { schedule: Schedule }) {
  const since = new Date(Math.floor(Date.now() / 3600_000) * 3600_000);
  const until = new Date(since.getTime() + 7 * DAY);
  const final = useLoad(() => get(api.GET('/v1/schedules/{id}/final', {
    params: { path: { id: schedule.id }, query: { since: since.toISOString(), until: until.toISOString() } },
  })), [schedule.id]);
  const span = until.getTime() - since.getTime();
  const position = (iso: string) => ((new Date(iso).getTime() - since.getTime()) / span) * 100;
  const entries = final.data?.entries ?? [];
  const people = [...new Set(entries.flatMap((e) => e.user_ids))];
  // A tick at each local midnight in the window.
  const firstMidnight = new Date(since);
  firstMidnight.setHours(24, 0, 0, 0);
  const days = Array.from({ length: 7 }, (_, i) => new Date(firstMidnight.getTime() + i * DAY)).filter((d) => d < until);
  return html`<section class="final" aria-labelledby="final-heading">
    <h2 id="final-heading">${schedule.name}: the next 7 days</h2>
    <${ErrorNote} error=${final.error} />
    ${final.loading && !final.data ? html`<p class="loading">Loading…</p>` : null}
    ${final.data ? html`
      <div class="timeline-bar" aria-hidden="true">
        ${entries.map((e) => html`<div title=${`${e.user_ids.map(userName).join(', ') || 'nobody'}: ${when(e.start)} to ${when(e.end)}`}
          style=${{ left: `${position(e.start)}%`, width: `${position(e.end) - position(e.start)}%`, background: e.user_ids[0] ? colourOf(e.user_ids[0]) : undefined }}
          class=${e.user_ids.length ? 'segment' : 'segment gap'}></div>`)}
      </div>
      <div class="ticks" aria-hidden="true">${days.map((d) => {
        const left = position(d.toISOString());
        // A midnight near the window's end (late in the day) labels leftwards of its tick, inside
        // the page: at 360 px a label running rightwards from 90% made the page scroll sideways.
        return html`<span class=${left > 85 ? 'end' : undefined} style=${{ left: `${left}%` }}>${d.toLocaleDateString(undefined, { weekday: 'short', day: 'numeric' })}</span>`;
      })}</div>
      <ul class="legend">${people.map((id) => html`<li><span class="swatch" style=${{ background: colourOf(id) }}></span>${userName(id)}</li>`)}
        <li><span class="swatch gap"></span>Nobody on call</li></ul>
      <table class="entries">
        <caption>Who is on call, ${when(since.toISOString())} to ${when(until.toISOString())}</caption>
        <thead><tr><th scope="col">From</th><th scope="col">To</th><th scope="col">On call</th></tr></thead>
        <tbody>${entries.map((e) => html`<tr><td>${when(e.start)}</td><td>${when(e.end)}</td><td>${e.user_ids.map(userName).join(', ') || 'nobody'}</td></tr>`)}</tbody>
      </table>` : null}
  </section>`;
}

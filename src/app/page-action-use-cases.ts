import { userActor } from '../domain/api-key.ts';
import { DomainError } from '../domain/errors.ts';
import type { Incident } from '../domain/incident.ts';
import type { Tx } from '../ports/transact.ts';
import type * as IncidentStore from '../adapters/postgres/incident-store.ts';
import type * as ReplyCodeStore from '../adapters/postgres/reply-code-store.ts';
import type * as UserStore from '../adapters/postgres/user-store.ts';
import type { ActionLinks } from './action-links.ts';
import type { IncidentUseCases } from './incident-use-cases.ts';

// SPEC section 10: acting on a page from the page itself, as the person paged, without signing
// in: the button behind an action link, and a reply to an SMS page. Both change the incident
// through the same use case as PATCH /v1/incidents/:id/status, so paging stops and the others
// are told exactly as when the API does it.

export type PageAction = 'acknowledge' | 'resolve';
const statusOf = { acknowledge: 'acknowledged', resolve: 'resolved' } as const;

export type LinkView =
  | { ok: true; incident: Incident; person: { id: string; name: string } }
  | { ok: false; problem: 'invalid' | 'expired' };

export function makePageActions(deps: {
  reader: Tx;
  links: ActionLinks;
  incidents: Pick<typeof IncidentStore, 'getIncident'>;
  users: Pick<typeof UserStore, 'getUser' | 'usersBySmsNumber'>;
  replyCodes: Pick<typeof ReplyCodeStore, 'incidentOfReplyCode'>;
  incidentUseCases: Pick<IncidentUseCases, 'update'>;
}) {
  /** What a link leads to; a resolved incident's links have expired with it. */
  async function open(token: string, now = new Date()): Promise<LinkView> {
    const checked = await deps.links.check(token, now);
    if (!checked.ok) return checked;
    const [incident, person] = await Promise.all([deps.incidents.getIncident(deps.reader, checked.incident_id), deps.users.getUser(deps.reader, checked.user_id)]);
    if (!incident || !person) return { ok: false, problem: 'invalid' };
    if (incident.status === 'resolved') return { ok: false, problem: 'expired' };
    return { ok: true, incident, person: { id: person.id, name: person.name } };
  }

  /** Acknowledges or resolves as the paged person; acknowledging twice changes nothing. */
  async function act(incidentId: string, personId: string, action: PageAction): Promise<Incident> {
    try {
      return await deps.incidentUseCases.update(userActor(personId), incidentId, { status: statusOf[action] });
    } catch (error) {
      // A race lost to someone who resolved it meanwhile: the link is as good as expired.
      if (error instanceof DomainError && error.code === 'INVALID_STATUS_TRANSITION') return (await deps.incidents.getIncident(deps.reader, incidentId))!;
      throw error;
    }
  }

  return {
    open,

    /** POST /a/<token>. */
    async actOnLink(token: string, action: PageAction): Promise<LinkView> {
      const view = await open(token);
      if (!view.ok) return view;
      return { ...view, incident: await act(view.incident.id, view.person.id, action) };
    },

    /**
     * POST /v1/inbound/sms, its signature already checked: `<code> A` or `<code> R` from a number
     * that is a person's phone. Answers the text to send back; anything that matches nothing
     * changes nothing and gets the help text.
     */
    async smsReply(from: string, body: string): Promise<string> {
      const help = 'Tocsin: reply with the code at the end of a page and A to acknowledge or R to resolve, such as "K7Q A".';
      const match = /^\s*([A-Za-z0-9]{1,8})\s+(a|ack|acknowledge|r|res|resolve)\s*[.!]?\s*$/i.exec(body);
      if (!match) return help;
      const people = await deps.users.usersBySmsNumber(deps.reader, from.trim());
      const found = await deps.replyCodes.incidentOfReplyCode(deps.reader, people.map((p) => p.id), match[1]!.toUpperCase());
      if (found.length !== 1) return help;
      const action: PageAction = match[2]!.toLowerCase().startsWith('a') ? 'acknowledge' : 'resolve';
      const incident = await act(found[0]!.incident_id, found[0]!.user_id, action);
      return `Tocsin: ${incident.status === 'resolved' ? 'resolved' : 'acknowledged'} ${incident.severity} ${incident.title}`.slice(0, 300);
    },
  };
}

export type PageActions = ReturnType<typeof makePageActions>;

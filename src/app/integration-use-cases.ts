import { decideAlert, integrationActor, type AlertAction, type Integration, type IntegrationType } from '../domain/alert.ts';
import type { Clock } from '../ports/clock.ts';
import { within, type Stores, type Transact } from '../ports/unit-of-work.ts';
import { createIncident, updateIncident, type Context } from './incident-use-cases.ts';
import { checkReferences, noteMissingTeam, teamStillThere } from './references.ts';

export interface IntegrationContext {
  transact: Transact;
  clock: Clock;
  /** Passed on to paging, as for incidents opened through the API (see src/app/paging.ts). */
  channelProblem?: Context['channelProblem'];
}

export interface AlertOutcome {
  /** What the event did: opened an incident, added to one, moved one, or nothing (PagerDuty accepts those too). */
  outcome: 'created' | 'updated' | 'acknowledged' | 'resolved' | 'ignored';
  incident_id: string | null;
  dedup_key: string;
}

/**
 * One event from an integration (Events v2 or Alertmanager), in one transaction (SPEC section 6).
 * Incidents are opened and moved through createIncident and updateIncident, joined to this
 * transaction, so whatever those do on creation or on a status change (the timeline, paging)
 * happens for integration incidents exactly as for incidents opened through the API.
 */
export async function receiveAlert(ctx: IntegrationContext, integration: Integration, action: AlertAction): Promise<AlertOutcome> {
  const actor = integrationActor(integration);
  return ctx.transact(async (stores) => {
    const joined: Context = {
      transact: within(stores),
      clock: ctx.clock,
      actor,
      ...(ctx.channelProblem ? { channelProblem: ctx.channelProblem } : {}),
    };
    await stores.alerts.lockKey(integration.id, action.dedup_key);
    const open = await stores.alerts.findOpen(integration.id, action.dedup_key);
    const decision = decideAlert(action.kind, open?.status);
    const received = (incidentId: string) => appendReceived(stores, actor, incidentId, integration, action);

    switch (decision.kind) {
      case 'open': {
        if (action.kind !== 'trigger') throw new Error('only a trigger opens an incident');
        const teamId = await teamStillThere(stores, integration.team_id);
        const incident = await createIncident(joined, {
          ...action.incident,
          team_id: teamId,
          source: integration.type,
          dedup_key: action.dedup_key,
        });
        await stores.alerts.attach(incident.id, { integration_id: integration.id, details: action.details });
        if (teamId !== integration.team_id) await noteMissingTeam(stores, actor, incident.id, integration.team_id!);
        await received(incident.id);
        return { outcome: 'created', incident_id: incident.id, dedup_key: action.dedup_key };
      }
      case 'append':
        await stores.alerts.setDetails(open!.id, action.details, ctx.clock.now());
        await received(open!.id);
        return { outcome: 'updated', incident_id: open!.id, dedup_key: action.dedup_key };
      case 'transition':
        await received(open!.id);
        await updateIncident(joined, open!.id, { status: decision.to });
        return { outcome: decision.to === 'acknowledged' ? 'acknowledged' : 'resolved', incident_id: open!.id, dedup_key: action.dedup_key };
      case 'ignore':
        return { outcome: 'ignored', incident_id: null, dedup_key: action.dedup_key };
    }
  });
}

/** POST /v1/integrations: the key is made here and shown once; the team, if any, must exist. */
export async function createIntegration(ctx: { transact: Transact }, input: { type: IntegrationType; name: string; team_id: string | null }, key: { key_hash: string; key_prefix: string }): Promise<Integration> {
  return ctx.transact(async (stores) => {
    if (input.team_id) await checkReferences(stores, [{ field: 'body.team_id', kind: 'team', id: input.team_id }]);
    return stores.alerts.insertIntegration({ ...input, ...key });
  });
}

function appendReceived(stores: Stores, actor: string, incidentId: string, integration: Integration, action: AlertAction) {
  return stores.timeline.append({
    incident_id: incidentId,
    type: 'alert.received',
    actor,
    data: {
      integration_id: integration.id,
      integration_type: integration.type,
      action: action.kind,
      dedup_key: action.dedup_key,
      details: action.details,
    },
  });
}

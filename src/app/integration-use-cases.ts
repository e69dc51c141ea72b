import { decideAlert, integrationActor, type AlertAction, type Integration, type IntegrationType } from '../domain/alert.ts';
import type { Transact, Tx } from '../ports/transact.ts';
import type * as IncidentStore from '../adapters/postgres/incident-store.ts';
import type * as IntegrationStore from '../adapters/postgres/integration-store.ts';
import type { IncidentUseCases } from './incident-use-cases.ts';
import { missingTeamEvent, type References } from './references.ts';

// SPEC section 6: PagerDuty Events v2 and Alertmanager events become incidents.

export interface AlertOutcome {
  /** What the event did: opened an incident, added to one, moved one, or nothing (PagerDuty accepts those too). */
  outcome: 'created' | 'updated' | 'acknowledged' | 'resolved' | 'ignored';
  incident_id: string | null;
  dedup_key: string;
}

export function makeIntegrationUseCases(deps: {
  transact: Transact;
  integrations: typeof IntegrationStore;
  incidents: Pick<typeof IncidentStore, 'appendTimeline'>;
  incidentUseCases: Pick<IncidentUseCases, 'createWithin' | 'updateWithin'>;
  references: Pick<References, 'check' | 'teamStillThere'>;
}) {
  function received(tx: Tx, actor: string, incidentId: string, integration: Integration, action: AlertAction) {
    return deps.incidents.appendTimeline(tx, {
      incident_id: incidentId,
      type: 'alert.received',
      actor,
      data: { integration_id: integration.id, integration_type: integration.type, action: action.kind, dedup_key: action.dedup_key, details: action.details },
    });
  }

  return {
    /**
     * One event from an integration, in one transaction. Incidents are opened and moved by the
     * incident use cases in this transaction, so whatever those do on creation or on a status
     * change (the timeline, paging, change events) happens for integration incidents exactly as
     * for incidents opened through the API.
     */
    receiveAlert(integration: Integration, action: AlertAction): Promise<AlertOutcome> {
      const actor = integrationActor(integration);
      return deps.transact(async (tx) => {
        await deps.integrations.lockAlertKey(tx, integration.id, action.dedup_key);
        const open = await deps.integrations.findOpenAlertIncident(tx, integration.id, action.dedup_key);
        const decision = decideAlert(action.kind, open?.status);
        switch (decision.kind) {
          case 'open': {
            if (action.kind !== 'trigger') throw new Error('only a trigger opens an incident');
            const teamId = await deps.references.teamStillThere(tx, integration.team_id);
            const incident = await deps.incidentUseCases.createWithin(tx, actor, {
              ...action.incident,
              team_id: teamId,
              source: integration.type,
              dedup_key: action.dedup_key,
              integration_id: integration.id,
              details: action.details,
            }, true);
            if (teamId !== integration.team_id) {
              // SPEC section 2: never an incident for a team that does not exist, and never a lost alert.
              await deps.incidents.appendTimeline(tx, missingTeamEvent(incident.id, actor, integration.team_id!));
            }
            await received(tx, actor, incident.id, integration, action);
            return { outcome: 'created', incident_id: incident.id, dedup_key: action.dedup_key };
          }
          case 'append':
            await deps.incidentUseCases.updateWithin(tx, actor, open!.id, { details: action.details });
            await received(tx, actor, open!.id, integration, action);
            return { outcome: 'updated', incident_id: open!.id, dedup_key: action.dedup_key };
          case 'transition':
            await received(tx, actor, open!.id, integration, action);
            await deps.incidentUseCases.updateWithin(tx, actor, open!.id, { status: decision.to });
            return { outcome: decision.to === 'acknowledged' ? 'acknowledged' : 'resolved', incident_id: open!.id, dedup_key: action.dedup_key };
          case 'ignore':
            return { outcome: 'ignored', incident_id: null, dedup_key: action.dedup_key };
        }
      });
    },

    /** POST /v1/integrations: the key is made by the caller and shown once; the team, if any, must exist. */
    create(input: { type: IntegrationType; name: string; team_id: string | null }, key: { key_hash: string; key_prefix: string }): Promise<Integration> {
      return deps.transact(async (tx) => {
        if (input.team_id) await deps.references.check(tx, [{ field: 'body.team_id', kind: 'team', id: input.team_id }]);
        return deps.integrations.insertIntegration(tx, { ...input, ...key });
      });
    },
  };
}

export type IntegrationUseCases = ReturnType<typeof makeIntegrationUseCases>;

import { incidentView } from '../domain/incident.ts';
import type { Clock } from '../ports/clock.ts';
import type { ChangeFeed, Transact } from '../ports/transact.ts';
import type * as EscalationStore from '../adapters/postgres/escalation-store.ts';
import type { StepKey } from '../adapters/postgres/escalation-store.ts';
import type * as PolicyStore from '../adapters/postgres/escalation-policy-store.ts';
import type * as IncidentStore from '../adapters/postgres/incident-store.ts';
import type * as TeamStore from '../adapters/postgres/team-store.ts';
import type { Paging } from './paging.ts';

/**
 * The escalation job (SPEC section 5): pages its step if, under the incident's row lock, the
 * incident is still open and the step is still scheduled under this very job. A duplicate, stale
 * or retried job (a worker restarted mid-step) finds the step paged or cancelled and does
 * nothing, so each step is paged exactly once.
 */
export function makeEscalationRunner(deps: {
  transact: Transact;
  clock: Clock;
  incidents: Pick<typeof IncidentStore, 'lockIncident'>;
  escalations: Pick<typeof EscalationStore, 'lockEscalationStep' | 'cancelScheduledSteps' | 'markStepPaged'>;
  policies: Pick<typeof PolicyStore, 'getPolicy'>;
  teams: Pick<typeof TeamStore, 'getTeam'>;
  paging: Pick<Paging, 'pageLevel'>;
  changes: ChangeFeed;
}) {
  return async function runStep(job: StepKey & { job_id: string }): Promise<void> {
    await deps.transact(async (tx) => {
      const incident = await deps.incidents.lockIncident(tx, job.incident_id);
      if (!incident) return;
      const step = await deps.escalations.lockEscalationStep(tx, job);
      if (!step || step.status !== 'scheduled' || step.job_id !== job.job_id) return;
      const policy = await deps.policies.getPolicy(tx, step.policy_id);
      if (incident.status !== 'open' || !policy?.levels[step.level]) {
        await deps.escalations.cancelScheduledSteps(tx, incident.id);
        return;
      }
      const team = incident.team_id ? await deps.teams.getTeam(tx, incident.team_id) : undefined;
      const now = deps.clock.now();
      await deps.escalations.markStepPaged(tx, job, now);
      await deps.paging.pageLevel(tx, incident, policy, team, step.run, { round: step.round, level: step.level }, now);
      // The timeline grew (who was paged, what comes next): clients following the incident hear of it.
      deps.changes.append(tx, 'incident.updated', incidentView((await deps.incidents.lockIncident(tx, incident.id))!));
    });
  };
}

export type EscalationRunner = ReturnType<typeof makeEscalationRunner>;

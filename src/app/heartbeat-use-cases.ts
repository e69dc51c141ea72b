import { DomainError } from '../domain/errors.ts';
import { decideCheck, heartbeatActor, heartbeatDedupKey, missedIncident, nextDue, type Heartbeat } from '../domain/heartbeat.ts';
import type { HeartbeatQueue } from '../ports/queue.ts';
import type { Transact } from '../ports/transact.ts';
import type * as HeartbeatStore from '../adapters/postgres/heartbeat-store.ts';
import type { NewHeartbeatRow } from '../adapters/postgres/heartbeat-store.ts';
import type * as IncidentStore from '../adapters/postgres/incident-store.ts';
import type { IncidentUseCases } from './incident-use-cases.ts';
import { missingTeamEvent, type References } from './references.ts';

// Heartbeats (SPEC section 6). The row holds the truth (status, due_at); the queue only wakes a
// check at due_at. Every check and ping locks the heartbeat's row first, so a ping and a check
// racing each other are decided one after the other.

export type CheckOutcome = 'gone' | 'missed' | 'checked_again' | 'nothing';

export function makeHeartbeatUseCases(deps: {
  transact: Transact;
  heartbeats: typeof HeartbeatStore;
  queue: HeartbeatQueue;
  incidents: Pick<typeof IncidentStore, 'appendTimeline'>;
  incidentUseCases: Pick<IncidentUseCases, 'createWithin' | 'updateWithin'>;
  references: Pick<References, 'check' | 'teamStillThere'>;
}) {
  const { heartbeats } = deps;
  return {
    /** A new heartbeat is due one interval after its creation, and its first check is armed with it. */
    create(row: NewHeartbeatRow): Promise<Heartbeat> {
      return deps.transact(async (tx) => {
        if (row.team_id) await deps.references.check(tx, [{ field: 'body.team_id', kind: 'team', id: row.team_id }]);
        const heartbeat = await heartbeats.insertHeartbeat(tx, row);
        await deps.queue.arm(tx, heartbeat.id, heartbeat.due_at);
        return heartbeat;
      });
    },

    /** A ping: the heartbeat is due again one interval from now; if it was down, its incident is resolved. */
    ping(id: string): Promise<Heartbeat> {
      return deps.transact(async (tx) => {
        const locked = await heartbeats.lockHeartbeat(tx, id);
        if (!locked) throw new DomainError('HEARTBEAT_NOT_FOUND', 'no heartbeat has this key');
        const { heartbeat, now } = locked;
        if (heartbeat.status === 'down' && heartbeat.incident_id) {
          const actor = heartbeatActor(heartbeat);
          await deps.incidents.appendTimeline(tx, {
            incident_id: heartbeat.incident_id,
            type: 'heartbeat.recovered',
            actor,
            data: { heartbeat_id: heartbeat.id, name: heartbeat.name, pinged_at: now.toISOString() },
          });
          // Resolving an incident someone already resolved is a no-op (SPEC section 3).
          await deps.incidentUseCases.updateWithin(tx, actor, heartbeat.incident_id, { status: 'resolved' });
        }
        const due = nextDue(now, heartbeat.interval_seconds);
        const updated = await heartbeats.updateHeartbeat(tx, id, { status: 'up', last_ping_at: now, due_at: due, incident_id: null });
        await deps.queue.arm(tx, id, due);
        return updated;
      });
    },

    /**
     * The queued check of one heartbeat. A check that finds a later deadline (a ping came) arms the
     * next check for it; one that finds the deadline passed opens ONE incident and marks the
     * heartbeat down, and arms nothing: the next ping resolves the incident and arms the next check.
     */
    check(id: string): Promise<CheckOutcome> {
      return deps.transact(async (tx) => {
        const locked = await heartbeats.lockHeartbeat(tx, id);
        if (!locked) return 'gone';
        const { heartbeat, now } = locked;
        const decision = decideCheck(heartbeat, now);
        if (decision.kind === 'nothing') return 'nothing';
        if (decision.kind === 'check_again') {
          await deps.queue.arm(tx, id, decision.at);
          return 'checked_again';
        }
        const actor = heartbeatActor(heartbeat);
        const details = {
          heartbeat_id: heartbeat.id,
          name: heartbeat.name,
          interval_seconds: heartbeat.interval_seconds,
          last_ping_at: heartbeat.last_ping_at?.toISOString() ?? null,
          due_at: heartbeat.due_at.toISOString(),
        };
        const teamId = await deps.references.teamStillThere(tx, heartbeat.team_id);
        const incident = await deps.incidentUseCases.createWithin(tx, actor, {
          ...missedIncident(heartbeat),
          team_id: teamId,
          source: 'heartbeat',
          dedup_key: heartbeatDedupKey(heartbeat),
          details,
        }, true);
        if (teamId !== heartbeat.team_id) {
          await deps.incidents.appendTimeline(tx, missingTeamEvent(incident.id, actor, heartbeat.team_id!));
        }
        await deps.incidents.appendTimeline(tx, { incident_id: incident.id, type: 'heartbeat.missed', actor, data: { ...details, checked_at: now.toISOString() } });
        await heartbeats.updateHeartbeat(tx, id, { status: 'down', incident_id: incident.id });
        return 'missed';
      });
    },
  };
}

export type HeartbeatUseCases = ReturnType<typeof makeHeartbeatUseCases>;

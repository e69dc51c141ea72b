import { DomainError } from '../domain/errors.ts';
import {
  decideCheck,
  heartbeatActor,
  heartbeatDedupKey,
  missedIncident,
  nextDue,
  type Heartbeat,
} from '../domain/heartbeat.ts';
import type { Clock } from '../ports/clock.ts';
import type { NewHeartbeatRow } from '../ports/intake-writes.ts';
import { within, type Stores, type Transact } from '../ports/unit-of-work.ts';
import { createIncident, updateIncident, type Context } from './incident-use-cases.ts';
import { checkReferences, noteMissingTeam, teamStillThere } from './references.ts';

// Heartbeats (SPEC section 6). The row holds the truth (status, due_at); the queue only wakes a
// check at due_at. Every check and ping locks the heartbeat's row first, so a ping and a check
// racing each other are decided one after the other.

export interface HeartbeatContext {
  transact: Transact;
  clock: Clock;
  /** Passed on to paging, as for incidents opened through the API (see src/app/paging.ts). */
  channelProblem?: Context['channelProblem'];
}

const joinedAs = (stores: Stores, ctx: HeartbeatContext, heartbeat: Heartbeat): Context => ({
  transact: within(stores),
  clock: ctx.clock,
  actor: heartbeatActor(heartbeat),
  ...(ctx.channelProblem ? { channelProblem: ctx.channelProblem } : {}),
});

/** A new heartbeat is due one interval after its creation, and its first check is armed with it. */
export async function createHeartbeat(ctx: HeartbeatContext, row: NewHeartbeatRow): Promise<Heartbeat> {
  return ctx.transact(async (stores) => {
    if (row.team_id) await checkReferences(stores, [{ field: 'body.team_id', kind: 'team', id: row.team_id }]);
    const heartbeat = await stores.heartbeats.insert(row);
    await stores.heartbeatChecks.arm(heartbeat.id, heartbeat.due_at);
    return heartbeat;
  });
}

/** A ping: the heartbeat is due again one interval from now; if it was down, its incident is resolved. */
export async function pingHeartbeat(ctx: HeartbeatContext, id: string): Promise<Heartbeat> {
  return ctx.transact(async (stores) => {
    const locked = await stores.heartbeats.lock(id);
    if (!locked) throw new DomainError('HEARTBEAT_NOT_FOUND', 'no heartbeat has this key');
    const { heartbeat, now } = locked;
    if (heartbeat.status === 'down' && heartbeat.incident_id) {
      const actor = heartbeatActor(heartbeat);
      await stores.timeline.append({
        incident_id: heartbeat.incident_id,
        type: 'heartbeat.recovered',
        actor,
        data: { heartbeat_id: heartbeat.id, name: heartbeat.name, pinged_at: now.toISOString() },
      });
      // Resolving an incident someone already resolved is a no-op (SPEC section 3).
      await updateIncident(joinedAs(stores, ctx, heartbeat), heartbeat.incident_id, { status: 'resolved' });
    }
    const due = nextDue(now, heartbeat.interval_seconds);
    const updated = await stores.heartbeats.update(id, { status: 'up', last_ping_at: now, due_at: due, incident_id: null });
    await stores.heartbeatChecks.arm(id, due);
    return updated;
  });
}

export type CheckOutcome = 'gone' | 'missed' | 'checked_again' | 'nothing';

/**
 * The queued check of one heartbeat. A check that finds a later deadline (a ping came) arms the
 * next check for it; one that finds the deadline passed opens ONE incident and marks the
 * heartbeat down, and arms nothing: the next ping resolves the incident and arms the next check.
 */
export async function checkHeartbeat(ctx: HeartbeatContext, id: string): Promise<CheckOutcome> {
  return ctx.transact(async (stores) => {
    const locked = await stores.heartbeats.lock(id);
    if (!locked) return 'gone';
    const { heartbeat, now } = locked;
    const decision = decideCheck(heartbeat, now);
    if (decision.kind === 'nothing') return 'nothing';
    if (decision.kind === 'check_again') {
      await stores.heartbeatChecks.arm(id, decision.at);
      return 'checked_again';
    }
    const actor = heartbeatActor(heartbeat);
    const teamId = await teamStillThere(stores, heartbeat.team_id);
    const incident = await createIncident(joinedAs(stores, ctx, heartbeat), {
      ...missedIncident(heartbeat),
      team_id: teamId,
      source: 'heartbeat',
      dedup_key: heartbeatDedupKey(heartbeat),
    });
    if (teamId !== heartbeat.team_id) await noteMissingTeam(stores, actor, incident.id, heartbeat.team_id!);
    const details = {
      heartbeat_id: heartbeat.id,
      name: heartbeat.name,
      interval_seconds: heartbeat.interval_seconds,
      last_ping_at: heartbeat.last_ping_at?.toISOString() ?? null,
      due_at: heartbeat.due_at.toISOString(),
    };
    await stores.alerts.attach(incident.id, { integration_id: null, details });
    await stores.timeline.append({ incident_id: incident.id, type: 'heartbeat.missed', actor, data: { ...details, checked_at: now.toISOString() } });
    await stores.heartbeats.update(id, { status: 'down', incident_id: incident.id });
    return 'missed';
  });
}

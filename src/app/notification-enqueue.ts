import { incidentView } from '../domain/incident.ts';
import type { Notification } from '../domain/notification.ts';
import type { DeliveryQueue } from '../ports/queue.ts';
import type { ChangeFeed, Tx } from '../ports/transact.ts';
import type * as DeliveryStore from '../adapters/postgres/delivery-store.ts';
import type * as NotificationStore from '../adapters/postgres/notification-store.ts';
import type { NewNotificationRow } from '../adapters/postgres/notification-store.ts';

/**
 * An incident's `notification_status` follows its notifications (SPEC section 3). Every write that
 * changes a notification of an incident calls this in the same transaction; the incidents whose
 * summary changed get their `incident.updated` change (SPEC section 7).
 */
export function makeSummaries(deps: { delivery: Pick<typeof DeliveryStore, 'refreshIncidentSummaries'>; changes: ChangeFeed }) {
  return {
    /** Returns the ids of the incidents that still exist (one deleted meanwhile has no timeline). */
    async refresh(tx: Tx, incidentIds: (string | null)[]): Promise<string[]> {
      const ids = [...new Set(incidentIds.filter((id): id is string => id !== null))];
      if (ids.length === 0) return [];
      const { present, changed } = await deps.delivery.refreshIncidentSummaries(tx, ids);
      for (const incident of changed) deps.changes.append(tx, 'incident.updated', incidentView(incident));
      return present;
    },
  };
}

export type Summaries = ReturnType<typeof makeSummaries>;

/**
 * Writes notifications and their jobs in the caller's transaction (SPEC section 4): both commit or
 * neither does, so an accepted notification always has a job and a job always has its row. A
 * batch is one multi-row insert and one bulk job insert, whatever its size. The API's
 * notifications and escalation's pages both come through here.
 */
export function makeEnqueue(deps: { notifications: Pick<typeof NotificationStore, 'insertNotifications'>; queue: DeliveryQueue; summaries: Summaries }) {
  return async function enqueue(tx: Tx, rows: NewNotificationRow[]): Promise<Notification[]> {
    const created = await deps.notifications.insertNotifications(tx, rows);
    await deps.queue.enqueue(
      tx,
      rows.map((row) => ({
        id: row.job_id,
        channel: row.channel,
        notification_id: row.id,
        priority: row.priority,
        start_after: row.status === 'scheduled' ? row.scheduled_at : null,
      })),
    );
    await deps.summaries.refresh(tx, rows.map((row) => row.incident_id));
    return created;
  };
}

export type Enqueue = ReturnType<typeof makeEnqueue>;

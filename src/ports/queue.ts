import type { Channel, Priority } from '../domain/notification.ts';
import type { Tx } from './transact.ts';

// The queue, as the core sees it (STYLE habit 1: a port, because a queue is the kind of thing
// with more than one implementation; today it is pg-boss in the same database). Every call takes
// the transaction first, so a job commits or vanishes with the row it is for (SPEC section 4).

export interface DeliveryJob {
  id: string;
  channel: Channel;
  notification_id: string;
  priority: Priority;
  start_after: Date | null;
}

/** One queue per channel, each with a dead letter queue (SPEC section 4). */
export interface DeliveryQueue {
  enqueue(tx: Tx, jobs: DeliveryJob[]): Promise<void>;
  cancel(tx: Tx, channel: Channel, jobId: string): Promise<void>;
  /** Puts the jobs of notifications that failed for good into their channel's dead letter queue. */
  deadLetter(tx: Tx, channel: Channel, notificationIds: string[]): Promise<void>;
  /** Removes the notification's job from the channel's dead letter queue (redrive). */
  removeDeadLetter(tx: Tx, channel: Channel, notificationId: string): Promise<void>;
}

export interface EscalationStepJob {
  id: string;
  incident_id: string;
  run: number;
  round: number;
  level: number;
  start_after: Date;
}

/** The queue side of escalation (SPEC section 5): one job per scheduled step, run at its due time. */
export interface EscalationQueue {
  schedule(tx: Tx, job: EscalationStepJob): Promise<void>;
  cancel(tx: Tx, jobId: string): Promise<void>;
}

/** The queue side of heartbeats (SPEC section 6): the job that checks one heartbeat at a given time. */
export interface HeartbeatQueue {
  /** Makes sure a check of this heartbeat runs at `at` or earlier (a no-op if one is already waiting). */
  arm(tx: Tx, heartbeatId: string, at: Date): Promise<void>;
}

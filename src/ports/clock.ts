/** Time, as the core sees it. Tests and the escalation scheduler may supply another. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

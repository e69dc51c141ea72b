// A unit of work, as the core sees it (STYLE habit 2): the transaction is an argument, passed
// first to every store and queue function, so what a use case writes, the jobs it enqueues and
// the changes it appends commit or vanish together. `Tx` is opaque: only the PostgreSQL and queue
// adapters look inside.

declare const txBrand: unique symbol;

/** An open transaction (or, for reads and one-statement writes, the pool itself). */
export interface Tx {
  readonly [txBrand]: true;
}

export interface Transact {
  /** Runs `work` in a new transaction; commits when it resolves, rolls back when it throws. */
  <T>(work: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * For a unit of work that is ONE statement, which PostgreSQL makes atomic by itself: no BEGIN
   * and COMMIT, two round trips fewer (the hot paths: claiming and recording a delivery batch).
   * Its statement must write its changes itself: a change appended with ChangeFeed.append there
   * would be lost, and fails the unit of work.
   */
  single<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
}

/** SPEC section 7: what a client can see change, appended in the transaction that changes it. */
export interface ChangeFeed {
  append(tx: Tx, type: string, data: unknown): void;
}

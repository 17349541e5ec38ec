/** A connection the cache can close: an object's database handle. */
export interface OpenDatabase {
  /** Stable per object (`namespace/id`). */
  readonly key: string;
  /** A transaction or a cursor needs the connection: never close it now. */
  readonly held: boolean;
  /**
   * Set by each use; the cache clears it when it gives the connection a second chance. The owner
   * clears it once when the first event on a new connection is over (its first flush), so that
   * `used` in probation means "used again later".
   */
  used: boolean;
  /** Closes the connection; the cache calls `closed` from it. `evicted`: closed by the budget. */
  disconnect(evicted?: boolean): void;
}

/**
 * Which object databases stay open: at most `max`, chosen so that objects touched once (a cold
 * start, a one-off read) neither hold memory for long nor push out the objects in steady use.
 * Each open connection costs about 190 KB in node:sqlite whatever its cache size, so this
 * bounds most of the memory an object costs while in memory.
 *
 * The policy is 2Q (Johnson and Shasha, 1994): a new connection waits in a small FIFO
 * (probation). One used again while there joins the main set when it ages out; one that was not
 * is closed and its key remembered, and an object that opens again while remembered joins the
 * main set at once. The main set is managed as CLOCK (a use sets a flag; the sweep gives flagged
 * connections a second chance). A held connection is never closed, so the limit can be exceeded
 * while every connection is in use.
 */
export class OpenDatabases<T extends OpenDatabase> {
  readonly #max: number;
  readonly #probationMax: number;
  /** Opened once, oldest first. */
  readonly #probation = new Set<T>();
  /** In steady use, in CLOCK order. */
  readonly #main = new Set<T>();
  /** Keys of connections closed out of probation, oldest first (at most `max`). */
  readonly #remembered = new Set<string>();

  constructor(max: number) {
    this.#max = max;
    this.#probationMax = Math.max(1, Math.min(64, Math.floor(max / 4)));
  }

  get size(): number {
    return this.#probation.size + this.#main.size;
  }

  /** Call before opening `db`'s connection: closes others to make room. */
  opening(db: T): void {
    const proven = this.#remembered.delete(db.key);
    if (!proven) this.#shrink(this.#probation, this.#probationMax - 1);
    const room = this.#max - 1;
    if (this.size > room) this.#shrink(this.#main, room - this.#probation.size);
    if (this.size > room) this.#shrink(this.#probation, room - this.#main.size);
    (proven ? this.#main : this.#probation).add(db);
  }

  /** Call when `db`'s connection closed, for whatever reason. */
  closed(db: T): void {
    this.#probation.delete(db);
    this.#main.delete(db);
  }

  /** Closes the oldest connections of `set` that may close until it holds at most `target`. */
  #shrink(set: Set<T>, target: number): void {
    const probation = set === this.#probation;
    // Each step closes a connection or moves one to the back, so two rounds always suffice.
    let budget = set.size * 2;
    for (const db of set) {
      if (set.size <= target || budget-- <= 0) return;
      set.delete(db);
      if (db.held || db.used) {
        db.used = false;
        // Used again while waiting in probation: in steady use after all.
        (probation && !db.held ? this.#main : set).add(db);
        continue;
      }
      db.disconnect(true);
      if (probation) this.#remember(db.key);
    }
  }

  #remember(key: string): void {
    this.#remembered.add(key);
    if (this.#remembered.size > this.#max) {
      this.#remembered.delete(this.#remembered.values().next().value!);
    }
  }
}

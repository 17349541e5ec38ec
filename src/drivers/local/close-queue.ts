/** The rest of a close (`closeSqliteFile`): syncs and renames, run later on the thread pool. */
export type CloseFinish = (stillClosed: () => boolean) => Promise<void>;

/**
 * Runs the rest of database closes one at a time while serving, so closes never crowd the thread
 * pool that commits wait on, and four at a time once the driver is closing. Knows, per database
 * path, whether the database stayed closed since a given close (a reopen takes the kept WAL back
 * and the close must leave it be).
 */
export class CloseQueue {
  /** Finishes waiting to run, oldest first. */
  readonly #waiting: Array<() => Promise<void>> = [];
  /** Of those, how many are running now. */
  #running = 0;
  /** Called when no finish is waiting or running. */
  readonly #idle: Array<() => void> = [];
  /** Closes so far, numbering them. */
  #closes = 0;
  /** Database path -> its latest close still finishing, unless reopened since. */
  readonly #lastClose = new Map<string, number>();
  #draining = false;

  /** The database at `path` closed; `finish` runs when the pool has room. */
  closed(path: string, finish: CloseFinish): void {
    const close = ++this.#closes;
    this.#lastClose.set(path, close);
    const stillClosed = () => this.#lastClose.get(path) === close;
    this.#waiting.push(async () => {
      await finish(stillClosed);
      if (stillClosed()) this.#lastClose.delete(path);
    });
    this.#run();
  }

  /** The database at `path` is opening again: closes still finishing must leave it be. */
  reopening(path: string): void {
    this.#lastClose.delete(path);
  }

  /** Runs every waiting finish, several at a time; resolves when none is left. */
  drain(): Promise<void> {
    this.#draining = true;
    this.#run();
    return new Promise((resolve) => {
      if (this.#running === 0) resolve();
      else this.#idle.push(resolve);
    });
  }

  #run(): void {
    const limit = this.#draining ? 4 : 1;
    while (this.#running < limit && this.#waiting.length > 0) {
      const run = this.#waiting.shift()!;
      this.#running++;
      // Never rejects (`closeSqliteFile`); settle the same way if it somehow did.
      const done = () => {
        this.#running--;
        this.#run();
        if (this.#running === 0) for (const resolve of this.#idle.splice(0)) resolve();
      };
      run().then(done, done);
    }
  }
}

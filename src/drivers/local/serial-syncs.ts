/**
 * One sync at a time, and the calls made while it runs share the next one: group commit. A sync
 * that has not started yet covers every call made before it starts, so a call waits for at most
 * the sync running now and the one after it. Used by `FileSync` (a file's fdatasync) and
 * `JournalSync` (an object's record in the node journal).
 */
export class SerialSyncs {
  #inflight: Promise<void> | undefined;
  #queued: Promise<void> | undefined;

  /** No sync is running or waiting. */
  get idle(): boolean {
    return this.#inflight === undefined && this.#queued === undefined;
  }

  /** The last sync requested (waiting, or running), if any. */
  get last(): Promise<void> | undefined {
    return this.#queued ?? this.#inflight;
  }

  /** Resolves once a sync started after this call finished; `start` begins one. In call order. */
  request(start: () => Promise<void>): Promise<void> {
    if (this.#queued) return this.#queued;
    if (!this.#inflight) return this.#begin(start);
    const queued = this.#inflight.then(ignore, ignore).then(() => {
      this.#queued = undefined;
      return this.#begin(start);
    });
    this.#queued = queued;
    return queued;
  }

  #begin(start: () => Promise<void>): Promise<void> {
    let run: Promise<void>;
    try {
      run = start();
    } catch (error) {
      run = Promise.reject(error);
    }
    this.#inflight = run;
    const done = () => {
      if (this.#inflight === run) this.#inflight = undefined;
    };
    run.then(done, done);
    return run;
  }
}

function ignore(): void {}

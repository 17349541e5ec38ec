import { deferred } from "../deferred.ts";

/**
 * Holds back new events while the object must not be interleaved: during
 * `blockConcurrencyWhile`, an explicit `transaction()`, or a constructor's startup.
 *
 * Storage reads and writes do not lock it. They complete synchronously (SQLite in-process) and
 * their promises settle in microtasks, while new events only ever start from a fresh macrotask
 * (see `ObjectHost`), so no event can start between a storage result and the code awaiting it.
 */
export class InputGate {
  #locks = 0;
  #waiters: Array<() => void> = [];
  readonly #onOpen: () => void;

  /** `onOpen` is called whenever the last lock is released. */
  constructor(onOpen: () => void) {
    this.#onOpen = onOpen;
  }

  /** True when events may be delivered. */
  get isOpen(): boolean {
    return this.#locks === 0;
  }

  /** Closes the gate until the returned function is called (once). */
  lock(): () => void {
    this.#locks++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#locks === 0) this.#opened();
    };
  }

  /** Call this before resuming user code with the result of non-storage I/O. */
  waitForOpen(): Promise<void> | undefined {
    if (this.#locks === 0) return undefined;
    const wait = deferred();
    this.#waiters.push(wait.resolve);
    return wait.promise;
  }

  /** Drops every lock (the object was reset) and wakes whoever waits. */
  clear(): void {
    this.#locks = 0;
    this.#opened();
  }

  #opened(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
    this.#onOpen();
  }
}

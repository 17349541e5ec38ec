/**
 * Holds outgoing messages (responses, RPC results, outgoing calls and fetches, WebSocket sends)
 * until every write made before them is durable.
 *
 * Commits of one object become durable in order (`DatabaseHandle.flush` resolves in call order),
 * so the promise of the latest held commit covers every earlier one.
 */
export class OutputGate {
  #latest: Promise<void> | undefined;
  #pending = 0;

  /** Call this when a commit that outputs must wait for starts; `durable` settles with it. */
  hold(durable: Promise<void>): void {
    this.#pending++;
    this.#latest = durable;
    const done = () => {
      if (--this.#pending === 0) this.#latest = undefined;
    };
    durable.then(done, done);
  }

  /**
   * Call this before letting an output leave. Undefined when nothing is held (the fast path);
   * otherwise a promise that resolves when everything held so far is durable and rejects if
   * that failed.
   */
  wait(): Promise<void> | undefined {
    return this.#latest;
  }
}

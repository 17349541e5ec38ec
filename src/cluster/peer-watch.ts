import type { ClusterStore } from "../core/storage/cluster-store.ts";

/**
 * Watches the nodes that forwarded calls wait on: while any call waits, it asks the store every
 * `intervalMs` whose leases ended, and aborts the calls waiting on such a node (a node that
 * died or is paused never answers; its objects can then be claimed elsewhere). A node that left
 * cleanly answers what it was sent, so calls to it are left alone.
 * Asks nothing while no call waits.
 */
export class PeerWatch {
  readonly #store: Pick<ClusterStore, "expiredNodes">;
  readonly #intervalMs: number;
  readonly #waiting = new Map<string, Set<AbortController>>();
  #timer: NodeJS.Timeout | undefined;
  #asking = false;

  constructor(store: Pick<ClusterStore, "expiredNodes">, intervalMs: number) {
    this.#store = store;
    this.#intervalMs = intervalMs;
  }

  /** Aborts `controller` if `node`'s lease ends before the returned function is called. */
  watch(node: string, controller: AbortController): () => void {
    let set = this.#waiting.get(node);
    if (set === undefined) {
      set = new Set();
      this.#waiting.set(node, set);
    }
    set.add(controller);
    this.#timer ??= setInterval(() => this.#check(), this.#intervalMs).unref();
    return () => {
      set.delete(controller);
      if (set.size === 0 && this.#waiting.get(node) === set) this.#waiting.delete(node);
      if (this.#waiting.size === 0) this.stop();
    };
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #check(): void {
    if (this.#asking || this.#waiting.size === 0) return;
    this.#asking = true;
    this.#store
      .expiredNodes()
      .then(
        (expired) => {
          for (const [node, controllers] of this.#waiting) {
            if (!expired.has(node)) continue;
            for (const controller of controllers) {
              controller.abort(new Error(`the lease of cluster node ${node} ended`));
            }
          }
        },
        () => {
          // The store did not answer: nothing is known; the next check asks again.
        },
      )
      .finally(() => {
        this.#asking = false;
      });
  }
}

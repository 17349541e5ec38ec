import type { ClusterStore } from "../core/storage/cluster-store.ts";

/**
 * Watches the nodes that forwarded calls wait on: while any call waits, it asks the store every
 * `intervalMs` which leases are alive, and aborts the calls waiting on a node whose lease ended
 * (a node that died or is paused never answers; its objects can then be claimed elsewhere).
 * Asks nothing while no call waits.
 */
export class PeerWatch {
  readonly #store: Pick<ClusterStore, "liveNodes">;
  readonly #intervalMs: number;
  readonly #waiting = new Map<string, Set<AbortController>>();
  #timer: NodeJS.Timeout | undefined;
  #asking = false;

  constructor(store: Pick<ClusterStore, "liveNodes">, intervalMs: number) {
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
      .liveNodes()
      .then(
        (alive) => {
          for (const [node, controllers] of this.#waiting) {
            if (alive.has(node)) continue;
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

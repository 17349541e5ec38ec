import { SteadError } from "../core/errors.ts";
import type { ClusterStore } from "../core/storage/cluster-store.ts";

export interface NodeLeaseOptions {
  store: ClusterStore;
  /** How long a heartbeat keeps the node's claims alive, by the store's clock, ms. */
  leaseMs: number;
  /** Set to 1 while this node may serve objects, 0 when not; object threads read it too. */
  serving: Int32Array;
  /** When the node registered (`now()` taken before the store was asked): its first lease. */
  joinedAt: number;
  /** The node stopped serving: reset every live object with `error`. */
  onLost(error: SteadError): void;
  /** The node renewed its lease after losing it: objects are claimed again as they are used. */
  onRegained(): void;
  /** A newer run of the same node id registered: this run is out for good. */
  onReplaced(error: SteadError): void;
  /** Monotonic ms (default `performance.now`). */
  now?: () => number;
}

/**
 * Keeps a cluster node's lease: renews it every fifth of the lease, and stops the node serving
 * once `leaseMs − margin` has passed, by this machine's monotonic clock, since the last renewal
 * that PostgreSQL acknowledged was sent. A renewal's lease starts no earlier than its sending, so
 * the node stops before any other node can judge its lease expired and take its objects (the
 * margin covers clock-rate differences and the time to reset). No stale read is served after.
 */
export class NodeLease {
  readonly #options: NodeLeaseOptions;
  readonly #now: () => number;
  readonly #margin: number;
  #lastRenewal: number;
  #renewing = false;
  #replaced = false;
  #stopped = false;
  #beat: NodeJS.Timeout | undefined;
  #check: NodeJS.Timeout | undefined;

  constructor(options: NodeLeaseOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#margin = Math.max(500, options.leaseMs * 0.3);
    this.#lastRenewal = options.joinedAt;
  }

  get serving(): boolean {
    return Atomics.load(this.#options.serving, 0) === 1;
  }

  start(): void {
    Atomics.store(this.#options.serving, 0, 1);
    this.#beat = setInterval(() => this.#renew(), this.#options.leaseMs / 5);
    this.#check = setInterval(() => this.#checkLease(), Math.min(250, this.#options.leaseMs / 20));
    this.#beat.unref();
    this.#check.unref();
  }

  /** Stops renewing and serving (shutdown: the store is told separately). */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#beat);
    clearInterval(this.#check);
    Atomics.store(this.#options.serving, 0, 0);
  }

  #renew(): void {
    if (this.#renewing || this.#replaced) return;
    this.#renewing = true;
    const sentAt = this.#now();
    this.#options.store
      .heartbeat()
      .then(
        (renewed) => {
          if (this.#stopped) return;
          if (!renewed) {
            this.#replaced = true;
            this.stop();
            this.#options.onReplaced(
              new SteadError(
                "NODE_NOT_SERVING",
                `Another process registered as cluster node ${this.#options.store.node}, so this one stopped serving for good. Give every node its own --node-id.`,
              ),
            );
            return;
          }
          this.#lastRenewal = Math.max(this.#lastRenewal, sentAt);
          if (!this.serving) {
            Atomics.store(this.#options.serving, 0, 1);
            this.#options.onRegained();
          }
        },
        () => {
          // Unanswered: the lease check decides when this costs the node its objects.
        },
      )
      .finally(() => {
        this.#renewing = false;
      });
  }

  #checkLease(): void {
    if (!this.serving || this.#replaced) return;
    const since = this.#now() - this.#lastRenewal;
    if (since <= this.#options.leaseMs - this.#margin) return;
    Atomics.store(this.#options.serving, 0, 0);
    this.#options.onLost(
      new SteadError(
        "NODE_NOT_SERVING",
        `Cluster node ${this.#options.store.node} could not renew its lease in PostgreSQL for ${Math.round(since)} ms, so it stopped serving objects before another node could take them over. It serves again once it can renew; check its connection to PostgreSQL.`,
        { retryable: true },
      ),
    );
  }
}

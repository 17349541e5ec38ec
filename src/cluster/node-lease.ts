import { SteadError } from "../core/errors.ts";
import type { ClusterStore } from "../core/storage/cluster-store.ts";
import { nowUs } from "../threads/shard-protocol.ts";
import type { LeaseDeadline } from "./lease-deadline.ts";

export interface NodeLeaseOptions {
  store: ClusterStore;
  /** How long a heartbeat keeps the node's claims alive, by the store's clock, ms. */
  leaseMs: number;
  /** Until when this node may serve objects; object threads read it too. */
  deadline: LeaseDeadline;
  /** When the node registered (`nowUs()` taken before the store was asked): its first lease. */
  joinedAt: bigint;
  /** The node stopped serving: reset every live object with `error`. */
  onLost(error: SteadError): void;
  /** The node renewed its lease after losing it: objects are claimed again as they are used. */
  onRegained(): void;
  /** A newer run of the same node id registered: this run is out for good. */
  onReplaced(error: SteadError): void;
  /** An operator asked the node to hand its objects over and stop (`stead cluster drain`). */
  onDrain(): void;
}

/**
 * Keeps a cluster node's lease: renews it every fifth of the lease, and lets the node serve only
 * until `leaseMs − margin` after the last renewal that PostgreSQL acknowledged was *sent*
 * (`LeaseDeadline`, checked before every event). A renewal's lease starts no earlier than its
 * sending, so the node stops before any other node can judge its lease expired and take its
 * objects (the margin covers clock-rate differences). A timer also resets the live objects as
 * soon as the deadline passes, and reports it.
 */
export class NodeLease {
  readonly #options: NodeLeaseOptions;
  /** How long after a renewal was sent the node may serve, µs. */
  readonly #windowUs: bigint;
  #renewing = false;
  /** Whether the last check saw the node serving (so a loss is reported once). */
  #wasServing = false;
  #replaced = false;
  #stopped = false;
  #draining = false;
  #beat: NodeJS.Timeout | undefined;
  #check: NodeJS.Timeout | undefined;

  constructor(options: NodeLeaseOptions) {
    this.#options = options;
    const margin = Math.max(500, options.leaseMs * 0.3);
    this.#windowUs = BigInt(Math.round((options.leaseMs - margin) * 1000));
  }

  start(): void {
    this.#options.deadline.extend(this.#options.joinedAt + this.#windowUs);
    this.#wasServing = true;
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
    this.#options.deadline.clear();
  }

  #renew(): void {
    if (this.#renewing || this.#replaced) return;
    this.#renewing = true;
    const sentAt = nowUs();
    this.#options.store
      .heartbeat()
      .then(
        (renewal) => {
          if (this.#stopped) return;
          if (renewal === "replaced") {
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
          this.#options.deadline.extend(sentAt + this.#windowUs);
          if (!this.#wasServing && this.#options.deadline.serving) {
            this.#wasServing = true;
            this.#options.onRegained();
          }
          if (renewal === "drain" && !this.#draining) {
            this.#draining = true;
            this.#options.onDrain();
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
    if (!this.#wasServing || this.#replaced || this.#options.deadline.serving) return;
    this.#wasServing = false;
    this.#options.onLost(leaseLapsed(this.#options.store.node));
  }
}

/** The error of events refused, and objects reset, while a node's lease has lapsed. */
export function leaseLapsed(node: string): SteadError {
  return new SteadError(
    "NODE_NOT_SERVING",
    `Cluster node ${node} could not renew its lease in PostgreSQL in time, so it stopped serving objects before another node could take them over. It serves again once it can renew; check its connection to PostgreSQL. The call can be retried on another node.`,
    { retryable: true },
  );
}

// This runtime as a node of a cluster (the `cluster` option): its lease, the listener other
// nodes forward calls to, and the forwarder its own calls go out through.
import type { Server } from "node:http";
import { HttpForwarder } from "../cluster/http-forwarder.ts";
import { leaseLapsed, NodeLease } from "../cluster/node-lease.ts";
import { type ForwardedDelivery, listenForNodes } from "../cluster/node-listener.ts";
import { PeerWatch } from "../cluster/peer-watch.ts";
import type { SteadError } from "../core/errors.ts";
import type { ShardCluster } from "../threads/shard-protocol.ts";
import type { ClusterOptions } from "./runtime-options.ts";
import { DEFAULT_LEASE_MS, type StoreCluster } from "./store.ts";

export class ClusterNode {
  readonly forwarder: HttpForwarder;
  readonly #options: ClusterOptions;
  readonly #registration: StoreCluster;
  readonly #lease: NodeLease;
  #listener: Server | undefined;

  /**
   * Starts keeping the lease of the node `registration` registered. `reset` discards every live
   * object when the lease is lost (or a newer run of the node took over); `report` hears why.
   */
  constructor(
    options: ClusterOptions,
    registration: StoreCluster,
    reset: (error: SteadError) => void,
    report: (error: SteadError) => void,
  ) {
    this.#options = options;
    this.#registration = registration;
    this.forwarder = new HttpForwarder(
      options.nodeId,
      options.secret,
      new PeerWatch(registration.store, this.leaseMs / 4),
    );
    this.#lease = new NodeLease({
      store: registration.store,
      leaseMs: this.leaseMs,
      deadline: registration.deadline,
      joinedAt: registration.joinedAt,
      onLost: (error) => {
        reset(error);
        report(error);
      },
      onRegained: () => {},
      onReplaced: (error) => {
        reset(error);
        report(error);
      },
    });
    this.#lease.start();
  }

  get leaseMs(): number {
    return this.#options.leaseMs ?? DEFAULT_LEASE_MS;
  }

  /** Refuses events while the lease has lapsed (`NamespaceOptions.refuse`). */
  readonly refuse = (): SteadError | undefined =>
    this.#registration.deadline.serving ? undefined : leaseLapsed(this.#options.nodeId);

  /** What object threads need to claim objects for this node and forward calls. */
  shardData(): ShardCluster {
    return {
      node: this.#options.nodeId,
      address: this.#options.advertise,
      incarnation: this.#registration.store.incarnation,
      leaseMs: this.leaseMs,
      secret: this.#options.secret,
      deadline: this.#registration.deadline.buffer,
    };
  }

  /** Listens for calls other nodes forward here, at the advertised port. */
  async listen(deliver: ForwardedDelivery): Promise<void> {
    const [host, port] = splitAddress(this.#options.advertise);
    this.#listener = await listenForNodes({
      host: this.#options.listenHost ?? host,
      port,
      secret: this.#options.secret,
      deliver,
    });
  }

  /**
   * Leaves the cluster (after the objects were flushed and closed): stops listening, gives back
   * every object so other nodes take them at once, and ends the lease.
   */
  async leave(): Promise<void> {
    // No renewal may land after the node's row is gone.
    this.#lease.stop();
    const listener = this.#listener;
    if (listener !== undefined) {
      listener.closeAllConnections();
      await new Promise((resolve) => listener.close(resolve));
    }
    try {
      await this.#registration.store.leave();
    } finally {
      await this.forwarder[Symbol.asyncDispose]();
    }
  }

  /** Stops keeping the lease, leaving the claims to expire (start-up failed). */
  abandon(): void {
    this.#lease.stop();
    this.#listener?.close();
  }
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(":");
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}

// This runtime as a node of a cluster (the `cluster` option): its lease, the listener other
// nodes forward calls to, and the forwarder its own calls go out through.
import type { Server } from "node:http";
import { HttpForwarder } from "../cluster/http-forwarder.ts";
import { leaseLapsed, NodeLease } from "../cluster/node-lease.ts";
import {
  type ForwardedDelivery,
  IDLE_CONNECTION_MS,
  listenForNodes,
} from "../cluster/node-listener.ts";
import { PeerWatch } from "../cluster/peer-watch.ts";
import type { SteadError } from "../core/errors.ts";
import { type NodeAddress, ObjectElsewhere } from "../core/object/object-forwarder.ts";
import type { ShardCluster } from "../threads/shard-protocol.ts";
import type { ClusterOptions } from "./runtime-options.ts";
import { DEFAULT_LEASE_MS, type StoreCluster } from "./store.ts";

/** How long a leaving node keeps answering calls (sending them on) before it stops listening. */
const LISTENER_GRACE_MS = 1_000;

export class ClusterNode {
  readonly forwarder: HttpForwarder;
  readonly #options: ClusterOptions;
  readonly #registration: StoreCluster;
  readonly #lease: NodeLease;
  #listener: Server | undefined;
  /** The listener closes each connection after its answer (the node is leaving). */
  #closing = false;
  /** Set while the node hands its objects over: events wait for it, then go to another node. */
  #handingOver: PromiseWithResolvers<Error | NodeAddress> | undefined;

  /**
   * Starts keeping the lease of the node `registration` registered. `reset` discards every live
   * object when the lease is lost (or a newer run of the node took over); `report` hears why.
   */
  constructor(
    options: ClusterOptions,
    registration: StoreCluster,
    reset: (error: SteadError) => void,
    report: (error: SteadError) => void,
    drain: () => void,
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
      onDrain: drain,
    });
    this.#lease.start();
  }

  get leaseMs(): number {
    return this.#options.leaseMs ?? DEFAULT_LEASE_MS;
  }

  /**
   * Refuses events while the lease has lapsed, and holds them while the node hands its objects
   * over, then sends them elsewhere (`NamespaceOptions.refuse`).
   */
  readonly refuse = (): Error | Promise<Error | NodeAddress> | undefined => {
    if (this.#handingOver !== undefined) return this.#handingOver.promise;
    return this.#registration.deadline.serving ? undefined : leaseLapsed(this.#options.nodeId);
  };

  /**
   * Starts handing the node's objects over (shutdown): new events wait until `leave`, which
   * sends them to whichever node claims the objects next; the events already queued finish
   * (until `deadline`, `performance.now()` ms).
   */
  async handOver(hosting: { settle(deadline: number): Promise<void> }, deadline: number) {
    this.#handingOver ??= Promise.withResolvers<Error | NodeAddress>();
    // Callers stop reusing their connections to this node: each answer closes its own.
    this.#closing = true;
    await hosting.settle(deadline);
  }

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
    const [host, port] = splitAddress(this.#options.listen ?? this.#options.advertise);
    this.#listener = await listenForNodes({
      host,
      port,
      secret: this.#options.secret,
      // Held here too while handing over: objects on object threads are reached past the
      // namespaces of this thread.
      deliver: (namespace, id, event, resendable) => {
        const held = this.#handingOver?.promise;
        if (held === undefined) return deliver(namespace, id, event, resendable);
        return held.then((next) => {
          if (next instanceof Error) throw next;
          // A caller that can send the event again claims the object itself (learning that
          // nobody holds it); a request body it could not keep is passed on to another node.
          if (resendable) throw new ObjectElsewhere({ node: "", address: "" });
          return this.forwarder.forward(next, namespace, id, event, false);
        });
      },
      closing: () => this.#closing,
    });
  }

  /**
   * Leaves the cluster (after the objects were flushed and closed): stops listening, gives back
   * every object so other nodes take them at once, and ends the lease.
   */
  async leave(): Promise<void> {
    // No renewal may land after the node's row is gone.
    this.#lease.stop();
    try {
      await this.#registration.store.leave();
      // Events held meanwhile, and those that arrive until the listener closes, go to another
      // live node, which claims their objects (nobody holds them now).
      const others = (await this.#registration.store.nodes()).filter(
        (node) => node.alive && node.node !== this.#options.nodeId,
      );
      const next = others[Math.floor(Math.random() * others.length)];
      this.#handingOver?.resolve(next ?? leaseLapsed(this.#options.nodeId));
    } finally {
      this.#handingOver?.resolve(leaseLapsed(this.#options.nodeId));
      await this.#closeListener();
      await this.forwarder[Symbol.asyncDispose]();
    }
  }

  /**
   * Keeps answering (every answer closing its connection, so callers stop reusing them) for a
   * short grace, then closes the listener and every connection left.
   */
  async #closeListener(): Promise<void> {
    const listener = this.#listener;
    if (listener === undefined) return;
    this.#closing = true;
    await new Promise((resolve) => setTimeout(resolve, LISTENER_GRACE_MS));
    // Callers close their idle connections within the keep-alive hint; one this side closed
    // could be carrying a call the caller just wrote, whose outcome it would never learn.
    const deadline = performance.now() + IDLE_CONNECTION_MS + 1_000;
    while (performance.now() < deadline && (await openConnections(listener)) > 0) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const closed = new Promise((resolve) => listener.close(resolve));
    listener.closeAllConnections();
    await closed;
  }

  /** Stops keeping the lease, leaving the claims to expire (start-up failed). */
  abandon(): void {
    this.#lease.stop();
    this.#listener?.close();
  }
}

function openConnections(server: Server): Promise<number> {
  return new Promise((resolve) => server.getConnections((_, count) => resolve(count ?? 0)));
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(":");
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}

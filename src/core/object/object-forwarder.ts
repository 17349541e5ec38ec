import { SteadError } from "../errors.ts";
import type { DurableObjectId } from "../ids/object-id.ts";
import type { ObjectEvent } from "./object-class.ts";

/** A cluster node, as the nodes that forward calls to it know it. */
export interface NodeAddress {
  /** The node's id (`--node-id`). */
  node: string;
  /** Where other nodes reach it (`--advertise HOST:PORT`). */
  address: string;
}

/**
 * Thrown by a driver's `prepareObject` when another live node holds the object: the event goes
 * to that node instead (`ObjectForwarder`). Nothing of the event has run here.
 */
export class ObjectElsewhere extends Error {
  readonly owner: NodeAddress;

  constructor(owner: NodeAddress) {
    super(`internal: the object is held by node ${owner.node} (${owner.address})`);
    this.owner = owner;
  }
}

/**
 * The holder's node could not be reached. `sent` false: the event never left this node (the
 * connection was refused), so it may go elsewhere; true: its outcome is unknown.
 */
export class NodeUnreachable extends SteadError {
  readonly sent: boolean;

  constructor(message: string, sent: boolean, cause: unknown) {
    super("OBJECT_ELSEWHERE", message, { cause, retryable: true });
    this.sent = sent;
  }
}

/**
 * Reaches objects that another cluster node holds. Absent on a single node. The node that
 * receives a forwarded event delivers it to its own object without forwarding it again.
 */
export interface ObjectForwarder {
  /** This node's id: an `ObjectElsewhere` naming it means the object may be served here. */
  readonly node: string;
  /**
   * Delivers `event` to object `id` of `namespace` on `owner`, settling as a local delivery
   * would (a Response for fetch, the clone for RPC, the outcome for an alarm). Rejects with
   * `ObjectElsewhere` when that node does not hold the object, naming the holder it knows, or
   * node "" when the object has no holder (it was given back): any node may then claim it.
   * Rejects with `NodeUnreachable` when the node could not be reached. `resendable`: this node
   * can send the event again (it kept the request body), so the holder may turn it away.
   */
  forward(
    owner: NodeAddress,
    namespace: string,
    id: DurableObjectId,
    event: ObjectEvent,
    resendable: boolean,
  ): Promise<unknown>;
}

/** One cluster node as the shared record sees it. */
export interface NodeStatus {
  node: string;
  /** Where other nodes reach it. */
  address: string;
  /** This run of the node (raised each time it registers). */
  incarnation: number;
  /** Time since its last heartbeat by the store's clock, ms. */
  heartbeatAgeMs: number;
  /** Whether its lease is alive (heartbeat younger than the lease). */
  alive: boolean;
  /** Objects it holds. */
  objects: number;
}

/**
 * The record of a cluster's nodes that the storage keeps (PostgreSQL's `nodes` table): a
 * capability of drivers that several nodes share (`StorageDriver.cluster`). This node
 * registered when the driver connected.
 */
export interface ClusterStore {
  /** This node's id and run. */
  readonly node: string;
  readonly incarnation: number;
  /**
   * Renews this node's lease, by the store's clock: "renewed"; "drain" when an operator asked
   * the node to hand its objects over and stop (`stead cluster drain`), renewed too; "replaced"
   * when a newer run of the same node id registered (this run is out for good). Rejects when the
   * store did not answer.
   */
  heartbeat(): Promise<"renewed" | "drain" | "replaced">;
  /** Gives back every object this node holds and ends its lease now (a clean shutdown). */
  leave(): Promise<void>;
  /** Every registered node with its heartbeat age and the objects it holds, by node id. */
  nodes(): Promise<NodeStatus[]>;
  /**
   * The ids of the registered nodes whose lease has ended, by the store's clock (a node that
   * left is not registered any more, so not among them).
   */
  expiredNodes(): Promise<Set<string>>;
}

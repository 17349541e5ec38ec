import { SteadError } from "../../core/errors.ts";
import type { ClusterStore, NodeStatus } from "../../core/storage/cluster-store.ts";
import { storageUnavailable, withinTimeout } from "./answer-timeout.ts";
import { PgPool } from "./pg-pool.ts";
import { parseStorageUrl } from "./storage-url.ts";

/**
 * The cluster's nodes in PostgreSQL's `nodes` table, judged by PostgreSQL's clock. Heartbeats go
 * through a pool of their own, so a busy commit pool never delays a lease renewal.
 */
export class PostgresNodeRegistry implements ClusterStore {
  readonly node: string;
  readonly incarnation: number;
  readonly #pool: PgPool;
  readonly #S: string;
  readonly #leaseMs: number;
  readonly #timeoutMs: number;

  private constructor(
    pool: PgPool,
    S: string,
    node: string,
    incarnation: number,
    leaseMs: number,
    timeoutMs: number,
  ) {
    this.#pool = pool;
    this.#S = S;
    this.node = node;
    this.incarnation = incarnation;
    this.#leaseMs = leaseMs;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Registers a run of `node` reachable at `address`: a new incarnation, which ends the claims
   * of any earlier run of the same node id. With `incarnation` given, joins that run instead
   * (an object thread of the node).
   */
  static async join(
    pool: PgPool,
    S: string,
    cluster: { node: string; address: string; leaseMs: number; incarnation?: number },
    timeoutMs: number,
  ): Promise<PostgresNodeRegistry> {
    let incarnation = cluster.incarnation;
    if (incarnation === undefined) {
      const [row] = await pool.query(
        `INSERT INTO ${S}.nodes (node_id, incarnation, address, heartbeat_at) VALUES ($1, 1, $2, now())
         ON CONFLICT (node_id) DO UPDATE SET incarnation = nodes.incarnation + 1,
           address = EXCLUDED.address, heartbeat_at = now(), started_at = now()
         RETURNING incarnation`,
        [cluster.node, cluster.address],
      );
      incarnation = Number(row!.incarnation);
    }
    return new PostgresNodeRegistry(pool, S, cluster.node, incarnation, cluster.leaseMs, timeoutMs);
  }

  async heartbeat(): Promise<"renewed" | "drain" | "replaced"> {
    const [row] = await withinTimeout(
      this.#pool.query(
        `UPDATE ${this.#S}.nodes SET heartbeat_at = now() WHERE node_id = $1 AND incarnation = $2 RETURNING drain`,
        [this.node, this.incarnation],
      ),
      this.#timeoutMs,
    );
    if (row === undefined) return "replaced";
    return row.drain === true ? "drain" : "renewed";
  }

  async leave(): Promise<void> {
    await this.#pool.transaction(async (tx) => {
      await tx.query(
        `UPDATE ${this.#S}.objects SET owner_node = NULL, owner_incarnation = NULL
         WHERE owner_node = $1 AND owner_incarnation = $2`,
        [this.node, this.incarnation],
      );
      await tx.query(`DELETE FROM ${this.#S}.nodes WHERE node_id = $1 AND incarnation = $2`, [
        this.node,
        this.incarnation,
      ]);
    });
  }

  async expiredNodes(): Promise<Set<string>> {
    const rows = await withinTimeout(
      this.#pool.query(
        `SELECT node_id FROM ${this.#S}.nodes
         WHERE heartbeat_at <= now() - make_interval(secs => $1::float8 / 1000)`,
        [this.#leaseMs],
      ),
      this.#timeoutMs,
    );
    return new Set(rows.map((row) => row.node_id as string));
  }

  nodes(): Promise<NodeStatus[]> {
    return listNodes(this.#pool, this.#S, this.#leaseMs);
  }
}

/** Every registered node of the cluster in schema `S`, judged alive by `leaseMs`. */
export async function listNodes(pool: PgPool, S: string, leaseMs: number): Promise<NodeStatus[]> {
  const rows = await pool.query(
    `SELECT n.node_id, n.address, n.incarnation,
       (extract(epoch FROM now() - n.heartbeat_at) * 1000)::float8 AS age_ms,
       (SELECT count(*) FROM ${S}.objects o
        WHERE o.owner_node = n.node_id AND o.owner_incarnation = n.incarnation)::int AS objects
     FROM ${S}.nodes n ORDER BY n.node_id`,
  );
  return rows.map((row) => ({
    node: row.node_id as string,
    address: row.address as string,
    incarnation: Number(row.incarnation),
    heartbeatAgeMs: Math.max(0, Math.round(Number(row.age_ms))),
    alive: Number(row.age_ms) < leaseMs,
    objects: Number(row.objects),
  }));
}

/** The nodes of the cluster at `url` (`stead cluster status`), without joining it. */
export async function clusterStatus(url: string, leaseMs: number): Promise<NodeStatus[]> {
  const parsed = parseStorageUrl(url);
  const pool = new PgPool(parsed.connect, 1);
  try {
    return await listNodes(pool, `"${parsed.schema}"`, leaseMs);
  } catch (error) {
    if ((error as { code?: string }).code === "42P01") return []; // no cluster here yet
    throw storageUnavailable(parsed.display, error);
  } finally {
    await pool.end();
  }
}

/**
 * Asks node `node` of the cluster at `url` to hand its objects over and stop
 * (`stead cluster drain`); it sees the request at its next heartbeat. Throws when no such node
 * is registered.
 */
export async function requestDrain(url: string, node: string): Promise<void> {
  const parsed = parseStorageUrl(url);
  const pool = new PgPool(parsed.connect, 1);
  let rows: Record<string, unknown>[];
  try {
    rows = await pool.query(
      `UPDATE "${parsed.schema}".nodes SET drain = true WHERE node_id = $1 RETURNING 1`,
      [node],
    );
  } catch (error) {
    if ((error as { code?: string }).code !== "42P01")
      throw storageUnavailable(parsed.display, error);
    rows = [];
  } finally {
    await pool.end();
  }
  if (rows.length === 0) {
    throw new SteadError(
      "INVALID_CONFIG",
      `No node "${node}" has joined the cluster at ${parsed.display}; \`stead cluster status\` lists the nodes.`,
    );
  }
}

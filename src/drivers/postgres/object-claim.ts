import { SteadError } from "../../core/errors.ts";
import { ObjectElsewhere } from "../../core/object/object-forwarder.ts";
import type { AlarmRecord } from "../../core/storage/driver.ts";
import { ROW_TIME } from "./history-positions.ts";

/** A cluster node's identity, as the PostgreSQL driver claims objects for it. */
export interface ClusterIdentity {
  /** The node's id (`--node-id`). */
  readonly node: string;
  /** This run of the node: raised each time a node registers, so a restarted node is new. */
  readonly incarnation: number;
  /** How long a heartbeat keeps the node's claims alive, by PostgreSQL's clock, ms. */
  readonly leaseMs: number;
  /** False once the node could not renew its lease in time: it claims nothing and serves nothing. */
  serving(): boolean;
}

/** What a claim returns: the object's head, its history and the alarm the index holds. */
export interface ClaimedHead {
  epoch: number;
  txid: number;
  pageSize: number;
  dbPages: number;
  checksum: number;
  /** The log row whose state a recorded restore brings back, if one is recorded. */
  restoreTxid: number | undefined;
  /** The log row each restore wrote, oldest first. */
  generations: number[];
  /** The head log row's commit time (epoch ms; 0 before the first commit). */
  time: number;
  alarm: AlarmRecord | undefined;
}

type Query = (text: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

/**
 * Claims an object for this process: a new epoch, which fences every earlier holder's commits.
 * `name` (the name the id was made from, if it was) is written to the object's row when the row
 * has none, so every claim heals a name that was never recorded.
 * On a single node the claim always succeeds (the process that asks last wins). In a cluster it
 * succeeds only when the object is unowned, already this node's (this incarnation), or its
 * owner's heartbeat has expired by PostgreSQL's clock, and only while this node's own lease is
 * alive; otherwise it throws `ObjectElsewhere` naming the owner. One statement; no locks held.
 */
export async function claimObject(
  query: Query,
  S: string,
  namespace: string,
  id: string,
  cluster: ClusterIdentity | undefined,
  name: string | undefined,
): Promise<ClaimedHead> {
  if (cluster !== undefined && !cluster.serving()) throw notServing(cluster);
  const rows =
    cluster === undefined
      ? await query(
          `WITH claim AS (
             INSERT INTO ${S}.objects (namespace, id, epoch, name) VALUES ($1, $2, 1, $3::text)
             ON CONFLICT (namespace, id) DO UPDATE
               SET epoch = objects.epoch + 1, name = COALESCE(objects.name, excluded.name)
             RETURNING epoch, txid, page_size, db_pages, db_checksum)
           ${claimTail(S)}`,
          [namespace, id, name ?? null],
        )
      : await query(
          `WITH me AS (
             SELECT 1 FROM ${S}.nodes WHERE node_id = $3 AND incarnation = $4
               AND heartbeat_at > now() - make_interval(secs => $5::float8 / 1000)),
           claim AS (
             INSERT INTO ${S}.objects (namespace, id, epoch, owner_node, owner_incarnation, name)
             SELECT $1, $2, 1, $3, $4, $6::text FROM me
             ON CONFLICT (namespace, id) DO UPDATE
               SET epoch = objects.epoch + 1, owner_node = $3, owner_incarnation = $4,
                 name = COALESCE(objects.name, excluded.name)
               WHERE objects.owner_node IS NULL
                  OR (objects.owner_node = $3 AND objects.owner_incarnation = $4)
                  OR NOT EXISTS (
                    SELECT 1 FROM ${S}.nodes n
                    WHERE n.node_id = objects.owner_node AND n.incarnation = objects.owner_incarnation
                      AND n.heartbeat_at > now() - make_interval(secs => $5::float8 / 1000))
             RETURNING epoch, txid, page_size, db_pages, db_checksum)
           ${claimTail(S)}`,
          [namespace, id, cluster.node, cluster.incarnation, cluster.leaseMs, name ?? null],
        );
  const row = rows[0];
  if (row === undefined) {
    const [owner] = await query(
      `SELECT o.owner_node, n.address FROM ${S}.objects o
       LEFT JOIN ${S}.nodes n ON n.node_id = o.owner_node
       WHERE o.namespace = $1 AND o.id = $2`,
      [namespace, id],
    );
    // Our own lease ended meanwhile, or the owner left between the two statements: not served here.
    if (owner?.owner_node == null || owner.owner_node === cluster!.node || owner.address == null) {
      throw notServing(cluster!);
    }
    throw new ObjectElsewhere({
      node: owner.owner_node as string,
      address: owner.address as string,
    });
  }
  return {
    epoch: Number(row.epoch),
    txid: Number(row.txid),
    pageSize: Number(row.page_size),
    dbPages: Number(row.db_pages),
    checksum: Number(row.db_checksum),
    restoreTxid: row.restore_txid === null ? undefined : Number(row.restore_txid),
    generations: ((row.generations as string[] | null) ?? []).map(Number),
    time: Number(row.log_time ?? 0),
    alarm:
      row.alarm_time === null
        ? undefined
        : {
            namespace,
            id,
            name: (row.alarm_name as string | null) ?? undefined,
            time: Number(row.alarm_time),
            scheduledTime: Number(row.alarm_scheduled_time),
            retryCount: Number(row.alarm_retry_count),
          },
  };
}

/** The claimed head with the object's alarm as the index holds it (for `AlarmIndex.get`). */
/**
 * After the `claim` CTE: the object's history row, made with the object (its base is the empty
 * database), read with the restore it records as it stood before this statement; the head row's
 * time; and the object's alarm as the index holds it (for `AlarmIndex.get`).
 */
function claimTail(S: string): string {
  return `, history AS (
      INSERT INTO ${S}.object_history (namespace, id, base_txid)
      SELECT $1, $2, CASE WHEN txid = 0 THEN 0 END FROM claim
      ON CONFLICT (namespace, id) DO NOTHING)
    SELECT c.*, h.restore_txid, h.generations,
      (SELECT ${ROW_TIME} FROM ${S}.object_log l
        WHERE l.namespace = $1 AND l.id = $2 AND l.txid = c.txid) AS log_time,
      a.name AS alarm_name, a.time AS alarm_time, a.scheduled_time AS alarm_scheduled_time,
      a.retry_count AS alarm_retry_count
    FROM claim c
    LEFT JOIN ${S}.object_history h ON h.namespace = $1 AND h.id = $2
    LEFT JOIN ${S}.alarms a ON a.namespace = $1 AND a.id = $2`;
}

function notServing(cluster: ClusterIdentity): SteadError {
  return new SteadError(
    "NODE_NOT_SERVING",
    `Cluster node ${cluster.node} could not renew its lease in PostgreSQL in time, so it serves no object until it can (another node takes its objects over). Check its connection to PostgreSQL; the call can be retried on another node.`,
    { retryable: true },
  );
}

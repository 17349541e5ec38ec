import type { NodeStatus } from "../core/storage/cluster-store.ts";
import { clusterStatus } from "../drivers/postgres/node-registry.ts";
import { DEFAULT_LEASE_MS } from "../embedded/store.ts";
import { UsageError } from "./options.ts";

export interface ClusterStatusFlags {
  cluster?: string;
  json?: boolean;
}

/** `stead cluster status`: the nodes, their heartbeat age and the objects each holds. */
export async function clusterStatusCommand(
  flags: ClusterStatusFlags,
  write: (text: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const url = flags.cluster ?? env.STEAD_CLUSTER_URL;
  if (url === undefined) {
    throw new UsageError(
      "stead cluster status needs the cluster's PostgreSQL URL: --cluster postgres://… or STEAD_CLUSTER_URL.",
    );
  }
  const leaseMs = Number(env.STEAD_CLUSTER_LEASE_MS ?? DEFAULT_LEASE_MS);
  const nodes = await clusterStatus(url, leaseMs);
  if (flags.json === true) {
    write(`${JSON.stringify(nodes, null, 2)}\n`);
    return;
  }
  write(formatNodes(nodes));
}

function formatNodes(nodes: NodeStatus[]): string {
  if (nodes.length === 0) return "No node has joined this cluster.\n";
  const rows = [
    ["NODE", "ADDRESS", "STATE", "HEARTBEAT", "OBJECTS", "RUN"],
    ...nodes.map((n) => [
      n.node,
      n.address,
      n.alive ? "alive" : "expired",
      `${(n.heartbeatAgeMs / 1000).toFixed(1)} s ago`,
      String(n.objects),
      String(n.incarnation),
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows
    .map(
      (row) =>
        `${row
          .map((cell, c) => cell.padEnd(widths[c]!))
          .join("  ")
          .trimEnd()}\n`,
    )
    .join("");
}

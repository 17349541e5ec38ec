import type { NodeStatus } from "../core/storage/cluster-store.ts";
import { clusterStatus, requestDrain } from "../drivers/postgres/node-registry.ts";
import { DEFAULT_LEASE_MS } from "../embedded/store.ts";
import { UsageError } from "./options.ts";
import { formatTable } from "./text-table.ts";

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
  const url = clusterUrl(flags, env, "status");
  const leaseMs = Number(env.STEAD_CLUSTER_LEASE_MS ?? DEFAULT_LEASE_MS);
  const nodes = await clusterStatus(url, leaseMs);
  if (flags.json === true) {
    write(`${JSON.stringify(nodes, null, 2)}\n`);
    return;
  }
  write(formatNodes(nodes));
}

/** `stead cluster drain NODE`: the node hands its objects over and stops. */
export async function clusterDrainCommand(
  node: string,
  flags: ClusterStatusFlags,
  write: (text: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  await requestDrain(clusterUrl(flags, env, "drain"), node);
  write(
    `Asked node ${node} to drain: at its next heartbeat it finishes its requests, hands its objects over to the other nodes and stops. \`stead cluster status\` shows when it is gone.\n`,
  );
}

function clusterUrl(flags: ClusterStatusFlags, env: NodeJS.ProcessEnv, command: string): string {
  const url = flags.cluster ?? env.STEAD_CLUSTER_URL;
  if (url === undefined) {
    throw new UsageError(
      `stead cluster ${command} needs the cluster's PostgreSQL URL: --cluster postgres://… or STEAD_CLUSTER_URL.`,
    );
  }
  return url;
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
  return formatTable(rows);
}

// Cluster nodes as separate hosts: each node runs in a network namespace of its own (`ip netns`),
// with its own address on a bridge, and reaches PostgreSQL and the other nodes over it. Taking a
// node's link down cuts it off from everything at once, as a host losing its network would be.
// Runs where network namespaces can be made (root with iproute2, as on CI); skipped elsewhere.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { append, lastFailure } from "../support/cluster-client.ts";
import { STEAD_CLI, type SteadProcess, startStead } from "../support/stead-process.ts";
import { oncePerCheck, POSTGRES_TEST_URL, tempSchema } from "../support/storage.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { waitFor } from "../support/wait-for.ts";

const APP = new URL("../fixtures/cluster-app", import.meta.url).pathname;
const SECRET = "netns-cluster-secret-0123456789";
const LEASE_MS = 2_000;
const NODES = 3;
/** Names unique to this run (interface names are at most 15 characters). */
const TAG = `s${process.pid % 100_000}`;
const BRIDGE = `${TAG}br`;
/** A /24 picked from the run's pid, so runs side by side do not collide. */
const NET = `10.${200 + (process.pid % 50)}.${Math.floor(process.pid / 50) % 250}`;
const HOST_IP = `${NET}.1`;

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: "pipe" });
}

function inNamespace(i: number, ...args: string[]): void {
  ip("netns", "exec", `${TAG}n${i}`, "ip", ...args);
}

/** Why network namespaces cannot be made here, or false when they can. */
function unavailable(): false | string {
  if (process.getuid?.() !== 0) return "needs root to make network namespaces";
  try {
    ip("netns", "add", `${TAG}probe`);
    ip("netns", "delete", `${TAG}probe`);
    return false;
  } catch (error) {
    return `cannot make network namespaces here (${(error as Error).message.split("\n")[0]})`;
  }
}

function makeNetwork(): Disposable {
  ip("link", "add", BRIDGE, "type", "bridge");
  const dispose = () => {
    for (let i = 0; i < NODES; i++) {
      try {
        ip("netns", "delete", `${TAG}n${i}`);
      } catch {
        // Not made.
      }
    }
    try {
      ip("link", "delete", BRIDGE);
    } catch {
      // Gone.
    }
  };
  try {
    ip("addr", "add", `${HOST_IP}/24`, "dev", BRIDGE);
    ip("link", "set", BRIDGE, "up");
    for (let i = 0; i < NODES; i++) {
      const ns = `${TAG}n${i}`;
      ip("netns", "add", ns);
      ip("link", "add", `${TAG}h${i}`, "type", "veth", "peer", "name", `${TAG}v${i}`);
      ip("link", "set", `${TAG}v${i}`, "netns", ns);
      ip("link", "set", `${TAG}h${i}`, "master", BRIDGE, "up");
      inNamespace(i, "addr", "add", `${NET}.${10 + i}/24`, "dev", `${TAG}v${i}`);
      inNamespace(i, "link", "set", `${TAG}v${i}`, "up");
      inNamespace(i, "link", "set", "lo", "up");
    }
  } catch (error) {
    dispose();
    throw error;
  }
  return { [Symbol.dispose]: dispose };
}

describe("cluster nodes as separate hosts (network namespaces)", {
  skip: oncePerCheck() || unavailable(),
}, () => {
  it("moves a host's objects when its network goes down, with every write, and takes it back", async () => {
    using _network = makeNetwork();
    const postgres = new URL(POSTGRES_TEST_URL);
    // PostgreSQL listens on the host's loopback: the nodes reach it through the bridge.
    await using toPostgres = await TcpProxy.start(
      { host: postgres.hostname, port: Number(postgres.port || 5432) },
      HOST_IP,
    );
    await using schema = tempSchema("netns");
    const url = new URL(postgres);
    url.hostname = HOST_IP;
    url.port = String(toPostgres.port);
    url.searchParams.set("schema", schema.name);
    const dirs = Array.from({ length: NODES }, () => tempDataDir());
    const nodes: SteadProcess[] = [];
    try {
      for (let i = 0; i < NODES; i++) {
        const address = `${NET}.${10 + i}`;
        nodes.push(
          await startStead(
            "start",
            [APP, "--data-dir", dirs[i]!.path, "--host", address, "--threads", "0"],
            {
              launcher: [
                "ip",
                "netns",
                "exec",
                `${TAG}n${i}`,
                process.execPath,
                STEAD_CLI,
                "start",
              ],
              env: {
                STEAD_CLUSTER_URL: url.href,
                STEAD_STORAGE_URL: url.href,
                STEAD_CLUSTER_NODE_ID: `n${i}`,
                STEAD_CLUSTER_ADVERTISE: `${address}:7400`,
                STEAD_CLUSTER_SECRET: SECRET,
                STEAD_CLUSTER_LEASE_MS: String(LEASE_MS),
              },
            },
          ),
        );
      }
      const [host0, host1, host2] = nodes as [SteadProcess, SteadProcess, SteadProcess];
      assert.equal((await append(host0, "x", "1"))?.node, "n0");
      assert.deepEqual(
        await append(host1, "x", "2"),
        { list: ["1", "2"], node: "n0" },
        lastFailure(),
      );
      assert.deepEqual(await append(host2, "x", "3"), { list: ["1", "2", "3"], node: "n0" });

      inNamespace(0, "link", "set", `${TAG}v0`, "down");
      await waitFor(
        async () => (await append(host1, "x", "4"))?.node === "n1",
        "n1 to take x over once n0's lease ended",
        30_000,
      );
      // n2 may still have had a connection open to n0: a call sent on it gets no answer, and
      // fails as "may or may not have run" once n0's lease ended; the next one goes to n1.
      await waitFor(
        async () => {
          const served = await append(host2, "x", "5");
          if (served === undefined) return false;
          assert.deepEqual(served, { list: ["1", "2", "3", "4", "5"], node: "n1" });
          return true;
        },
        "n2 to reach the new holder",
        30_000,
      );
      inNamespace(0, "link", "set", `${TAG}v0`, "up");
      await waitFor(
        async () => {
          const served = await append(host0, "x", "6");
          if (served === undefined) return false;
          assert.deepEqual(served, { list: ["1", "2", "3", "4", "5", "6"], node: "n1" });
          return true;
        },
        "n0 to serve again, forwarding to the new holder",
        30_000,
      );
    } finally {
      for (const node of nodes) await node.stop().catch(() => {});
      for (const dir of dirs) dir[Symbol.dispose]();
    }
  });
});

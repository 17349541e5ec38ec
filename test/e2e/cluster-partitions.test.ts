// Network faults between cluster nodes and PostgreSQL, made by TCP proxies the test controls on
// every link: each node reaches PostgreSQL through a proxy of its own, and other nodes reach it
// through another (it advertises the proxy, listens behind it).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Served } from "../fixtures/cluster-worker.ts";
import { freePort } from "../support/free-port.ts";
import { type SteadProcess, startStead } from "../support/stead-process.ts";
import { oncePerCheck, POSTGRES_TEST_URL, tempSchema } from "../support/storage.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { waitFor } from "../support/wait-for.ts";

const APP = new URL("../fixtures/cluster-app", import.meta.url).pathname;
const SECRET = "partition-cluster-secret-0123456789";
const LEASE_MS = 2_000;
const POSTGRES = new URL(POSTGRES_TEST_URL);

interface ProxiedNode {
  process: SteadProcess;
  /** The node's link to PostgreSQL. */
  toPostgres: TcpProxy;
  /** Other nodes' links to it. */
  fromNodes: TcpProxy;
}

async function startNode(i: number, schema: string, dataDir: string): Promise<ProxiedNode> {
  const listen = await freePort();
  const toPostgres = await TcpProxy.start({
    host: POSTGRES.hostname,
    port: Number(POSTGRES.port || 5432),
  });
  const fromNodes = await TcpProxy.start({ host: "127.0.0.1", port: listen });
  const url = new URL(POSTGRES);
  url.hostname = "127.0.0.1";
  url.port = String(toPostgres.port);
  url.searchParams.set("schema", schema);
  const process = await startStead(
    "start",
    [APP, "--data-dir", dataDir, "--host", "127.0.0.1", "--threads", "0"],
    {
      env: {
        STEAD_CLUSTER_URL: url.href,
        STEAD_STORAGE_URL: url.href,
        STEAD_CLUSTER_NODE_ID: `n${i}`,
        STEAD_CLUSTER_ADVERTISE: fromNodes.address,
        STEAD_CLUSTER_LISTEN: `127.0.0.1:${listen}`,
        STEAD_CLUSTER_SECRET: SECRET,
        STEAD_CLUSTER_LEASE_MS: String(LEASE_MS),
      },
    },
  );
  return { process, toPostgres, fromNodes };
}

async function request(
  node: ProxiedNode,
  name: string,
  value?: string,
): Promise<{ status: number; served?: Served; text: string }> {
  try {
    const response = await fetch(`${node.process.url}/${name}`, {
      method: value === undefined ? "GET" : "POST",
      ...(value === undefined ? {} : { body: value }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    return response.ok
      ? { status: response.status, served: JSON.parse(text) as Served, text }
      : { status: response.status, text };
  } catch (error) {
    return { status: 0, text: String(error) };
  }
}

async function cluster(count: number) {
  const schema = tempSchema("partition");
  const dirs = Array.from({ length: count }, () => tempDataDir());
  const nodes: ProxiedNode[] = [];
  for (let i = 0; i < count; i++) nodes.push(await startNode(i, schema.name, dirs[i]!.path));
  return {
    nodes,
    async [Symbol.asyncDispose]() {
      for (const node of nodes) {
        await node.process.stop().catch(() => {});
        await node.toPostgres[Symbol.asyncDispose]();
        await node.fromNodes[Symbol.asyncDispose]();
      }
      for (const dir of dirs) dir[Symbol.dispose]();
      await schema[Symbol.asyncDispose]();
    },
  };
}

describe("cluster under network partitions", { skip: oncePerCheck() }, () => {
  it("a node cut off from PostgreSQL stops serving; another takes its objects with every write; it rejoins", async () => {
    await using c = await cluster(2);
    const [cut, other] = c.nodes as [ProxiedNode, ProxiedNode];
    assert.equal((await request(cut, "p", "1")).served?.node, "n0");
    cut.toPostgres.mode = "refuse";
    cut.toPostgres.cut();
    // The cut node refuses once its lease lapsed (it cannot renew), never serving a stale copy.
    await waitFor(
      async () => (await request(cut, "p")).status === 503,
      "the cut node to stop serving",
      20_000,
    );
    await waitFor(
      async () => (await request(other, "p", "2")).served?.node === "n1",
      "n1 to take the object over",
      20_000,
    );
    const refused = await request(cut, "p");
    assert.equal(refused.status, 503);
    assert.match(refused.text, /could not renew its lease|PostgreSQL/);
    cut.toPostgres.pass();
    await waitFor(
      async () => {
        const seen = await request(cut, "p");
        if (seen.status !== 200) return false;
        assert.deepEqual(
          seen.served,
          { list: ["1", "2"], node: "n1" },
          "the rejoined node forwards",
        );
        return true;
      },
      "the cut node to serve again once PostgreSQL is back",
      20_000,
    );
  });

  it("nodes that cannot reach each other keep serving their own objects; calls across fail cleanly, then heal", async () => {
    await using c = await cluster(2);
    const [island, other] = c.nodes as [ProxiedNode, ProxiedNode];
    assert.equal((await request(island, "q", "1")).served?.node, "n0");
    assert.equal((await request(other, "q", "2")).served?.node, "n0");
    island.fromNodes.mode = "refuse";
    island.fromNodes.cut();
    const across = await request(other, "q", "3");
    assert.equal(across.status, 503);
    assert.match(across.text, /could not be reached|did not answer/);
    // The holder still serves its object: its lease is fine, it only lost its peers.
    assert.deepEqual((await request(island, "q", "4")).served, {
      list: ["1", "2", "4"],
      node: "n0",
    });
    island.fromNodes.pass();
    await waitFor(
      async () => (await request(other, "q", "5")).status === 200,
      "calls across to work again",
      20_000,
    );
    assert.deepEqual((await request(other, "q")).served, {
      list: ["1", "2", "4", "5"],
      node: "n0",
    });
  });
});

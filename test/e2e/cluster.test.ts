// Three `stead start --cluster` nodes on 127.0.0.1 sharing one PostgreSQL schema: any node serves
// any object, and after a `kill -9` of a node its objects are served by the others once its lease
// ends, with every acknowledged append kept, in order.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Served } from "../fixtures/cluster-worker.ts";
import { append, lastFailure } from "../support/cluster-client.ts";
import { freePort } from "../support/free-port.ts";
import { runStead, type SteadProcess, startStead } from "../support/stead-process.ts";
import { oncePerCheck, tempSchema } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { waitFor } from "../support/wait-for.ts";
import { connect } from "../support/ws-client.ts";

const APP = new URL("../fixtures/cluster-app", import.meta.url).pathname;
const SECRET = "e2e-cluster-secret-0123456789";
const LEASE_MS = 2_000;
const OBJECTS = 12;

async function startNode(node: string, url: string, dataDir: string): Promise<SteadProcess> {
  const port = await freePort();
  return startStead(
    "start",
    [APP, "--data-dir", dataDir, "--host", "127.0.0.1", "--threads", "0"],
    {
      env: {
        STEAD_CLUSTER_URL: url,
        STEAD_STORAGE_URL: url,
        STEAD_CLUSTER_NODE_ID: node,
        STEAD_CLUSTER_ADVERTISE: `127.0.0.1:${port}`,
        STEAD_CLUSTER_SECRET: SECRET,
        STEAD_CLUSTER_LEASE_MS: String(LEASE_MS),
      },
    },
  );
}

describe("stead start --cluster", { skip: oncePerCheck() }, () => {
  it("serves every object from any node, and fails a killed node's objects over with nothing lost", async (t) => {
    await using schema = tempSchema("e2e_cluster");
    const dirs = [tempDataDir(), tempDataDir(), tempDataDir()];
    const nodes: SteadProcess[] = [];
    try {
      for (let i = 0; i < 3; i++) nodes.push(await startNode(`n${i}`, schema.url, dirs[i]!.path));
      const acked = new Map<string, string[]>();
      const holder = new Map<string, string>();
      // Every object is first asked for on a round-robin node, then appended to through all three.
      for (let round = 0; round < 3; round++) {
        for (let o = 0; o < OBJECTS; o++) {
          const name = `o${o}`;
          const value = `${round}`;
          const served = await append(nodes[(o + round) % 3]!, name, value);
          assert.ok(served, `append ${value} to ${name}`);
          acked.set(name, [...(acked.get(name) ?? []), value]);
          assert.deepEqual(served.list, acked.get(name));
          if (round > 0) assert.equal(served.node, holder.get(name), `${name} stays on one node`);
          holder.set(name, served.node);
        }
      }
      assert.equal(new Set(holder.values()).size, 3, "objects are spread over the nodes");
      // kill -9 the node holding o0; its objects move to the others once its lease ends.
      const victim = Number(holder.get("o0")!.slice(1));
      const killedAt = performance.now();
      await nodes[victim]!.stop("SIGKILL");
      const survivors = nodes.filter((_, i) => i !== victim);
      let recoveredAt = 0;
      await waitFor(
        async () => {
          const served = await append(survivors[0]!, "o0", "after");
          if (served === undefined) return false;
          recoveredAt = performance.now();
          acked.set("o0", [...acked.get("o0")!, "after"]);
          assert.deepEqual(served.list, acked.get("o0"));
          return true;
        },
        "o0 served again after its node was killed",
        30_000,
      );
      t.diagnostic(
        `failover: first acknowledged write ${Math.round(recoveredAt - killedAt)} ms after kill -9 (lease ${LEASE_MS} ms)`,
      );
      for (let o = 1; o < OBJECTS; o++) {
        const name = `o${o}`;
        const served = await append(survivors[o % 2]!, name, "last");
        assert.ok(served, `append to ${name} after the failover: ${lastFailure()}`);
        acked.set(name, [...acked.get(name)!, "last"]);
        assert.deepEqual(served.list, acked.get(name), `${name} kept every acknowledged append`);
        assert.notEqual(served.node, `n${victim}`);
      }
      const status = await runStead(["cluster", "status", "--cluster", schema.url, "--json"], {
        env: { STEAD_CLUSTER_LEASE_MS: String(LEASE_MS) },
      });
      assert.equal(status.code, 0, status.stderr);
      const seen = JSON.parse(status.stdout) as Array<{
        node: string;
        alive: boolean;
        objects: number;
      }>;
      assert.deepEqual(
        seen.map((n) => [n.node, n.alive]),
        [0, 1, 2].map((i) => [`n${i}`, i !== victim]),
      );
      assert.equal(seen[victim]!.objects, 0, "the killed node holds nothing any more");
    } finally {
      for (const node of nodes) await node.stop().catch(() => {});
      for (const dir of dirs) dir[Symbol.dispose]();
    }
  });

  it("closes a WebSocket with 1012 when the node holding its object is killed; the client reconnects to the new holder", async () => {
    await using schema = tempSchema("e2e_cluster");
    const dirs = [tempDataDir(), tempDataDir()];
    const nodes: SteadProcess[] = [];
    try {
      for (let i = 0; i < 2; i++) nodes.push(await startNode(`n${i}`, schema.url, dirs[i]!.path));
      const [holder, front] = nodes as [SteadProcess, SteadProcess];
      assert.equal((await append(holder, "chat", "a"))?.node, "n0");
      const wsUrl = (node: SteadProcess) => `${node.url.replace("http", "ws")}/chat`;
      await using first = await connect(wsUrl(front));
      first.send("b");
      assert.deepEqual(await first.next(), { list: ["a", "b"], node: "n0" });
      await holder.stop("SIGKILL");
      assert.equal((await first.closed).code, 1012);
      let second: Awaited<ReturnType<typeof connect>> | undefined;
      await waitFor(
        async () => {
          second = await connect(wsUrl(front)).catch(() => undefined);
          return second !== undefined;
        },
        "a new connection once n0's lease ended",
        30_000,
      );
      second!.send("c");
      assert.deepEqual(await second!.next(), { list: ["a", "b", "c"], node: "n1" });
      await second![Symbol.asyncDispose]();
    } finally {
      for (const node of nodes) await node.stop().catch(() => {});
      for (const dir of dirs) dir[Symbol.dispose]();
    }
  });

  it("restarts every node in turn under load (SIGTERM) with no failed request", async (t) => {
    await using schema = tempSchema("e2e_cluster");
    const dirs = [tempDataDir(), tempDataDir(), tempDataDir()];
    const nodes: SteadProcess[] = [];
    const up = [true, true, true];
    try {
      for (let i = 0; i < 3; i++) nodes.push(await startNode(`n${i}`, schema.url, dirs[i]!.path));
      // One client per object, appending through a random node that is up (as a load balancer
      // that took a stopping node out of rotation would).
      const acked = Array.from({ length: OBJECTS }, () => [] as string[]);
      const failures: string[] = [];
      // Appends sent to each node and not answered yet: the balancer lets them finish before
      // the node is stopped (connection draining). A connection idle when SIGTERM arrives is
      // closed, and an append written onto it at that instant could not be answered.
      const inFlight = [0, 0, 0];
      let running = true;
      let sent = 0;
      const client = async (o: number) => {
        for (let n = 0; running; n++) {
          const choices = [0, 1, 2].filter((i) => up[i]);
          const chosen = choices[(o + n) % choices.length]!;
          inFlight[chosen]!++;
          const served = await append(nodes[chosen]!, `o${o}`, String(n)).finally(
            () => inFlight[chosen]!--,
          );
          sent++;
          if (served === undefined) {
            failures.push(lastFailure());
            continue;
          }
          acked[o]!.push(String(n));
          // A failed append may still have been applied (its outcome was unknown): the list
          // holds every acknowledged one, in order, perhaps with failed ones between.
          const kept = served.list.filter((value) => acked[o]!.includes(value));
          assert.deepEqual(kept, acked[o], `o${o} holds every acknowledged append, in order`);
        }
      };
      const clients = Promise.all(Array.from({ length: OBJECTS }, (_, o) => client(o)));
      try {
        for (let i = 0; i < 3; i++) {
          const before = sent;
          await waitFor(() => sent >= before + 50, "load before the restart", 30_000);
          up[i] = false;
          await waitFor(() => inFlight[i] === 0, `appends sent to n${i} answered`, 30_000);
          assert.deepEqual(await nodes[i]!.stop("SIGTERM"), { code: 0, signal: null });
          nodes[i] = await startNode(`n${i}`, schema.url, dirs[i]!.path);
          up[i] = true;
        }
        const before = sent;
        await waitFor(() => sent >= before + 50, "load after the restarts", 30_000);
      } finally {
        running = false;
        await clients;
      }
      t.diagnostic(`${sent} appends, ${failures.length} failed`);
      assert.deepEqual(failures, []);
    } finally {
      for (const node of nodes) await node.stop().catch(() => {});
      for (const dir of dirs) dir[Symbol.dispose]();
    }
  });

  it("fences a paused node: once resumed it serves nothing stale and its pending write fails", async () => {
    await using schema = tempSchema("e2e_cluster");
    const dirs = [tempDataDir(), tempDataDir()];
    const nodes: SteadProcess[] = [];
    try {
      for (let i = 0; i < 2; i++) nodes.push(await startNode(`n${i}`, schema.url, dirs[i]!.path));
      const [zombie, other] = nodes as [SteadProcess, SteadProcess];
      assert.equal((await append(zombie, "z", "1"))?.node, "n0");
      assert.equal((await append(other, "z", "2"))?.node, "n0", "forwarded to the holder");
      zombie.child.kill("SIGSTOP");
      // Sent while it is paused: it reaches the node only once it resumes.
      const pending = append(zombie, "z", "from-the-zombie");
      await waitFor(
        async () => (await append(other, "z", "3"))?.node === "n1",
        "n1 to take the object over once n0's lease ended",
        30_000,
      );
      zombie.child.kill("SIGCONT");
      assert.equal(
        await pending,
        undefined,
        `the paused node's pending write failed: ${lastFailure()}`,
      );
      assert.match(
        lastFailure(),
        /^503 .*(could not renew its lease|another process took|Another process took)/i,
      );
      // Whatever the resumed node answers is the current state, never its stale copy.
      await waitFor(
        async () => {
          const response = await fetch(`${zombie.url}/z`).catch(() => undefined);
          if (response?.ok !== true) return false;
          const served = (await response.json()) as Served;
          assert.deepEqual(served, { list: ["1", "2", "3"], node: "n1" });
          return true;
        },
        "the resumed node to serve the object again, from its new holder",
        30_000,
      );
    } finally {
      for (const node of nodes) {
        node.child.kill("SIGCONT");
        await node.stop().catch(() => {});
      }
      for (const dir of dirs) dir[Symbol.dispose]();
    }
  });

  it("drains a node on request (stead cluster drain): it hands its objects over and stops", async () => {
    await using schema = tempSchema("e2e_cluster");
    const dirs = [tempDataDir(), tempDataDir()];
    const nodes: SteadProcess[] = [];
    try {
      for (let i = 0; i < 2; i++) nodes.push(await startNode(`n${i}`, schema.url, dirs[i]!.path));
      const [drained, other] = nodes as [SteadProcess, SteadProcess];
      assert.equal((await append(drained, "d", "1"))?.node, "n0");
      const unknown = await runStead(["cluster", "drain", "nope", "--cluster", schema.url]);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /No node "nope" has joined the cluster/);
      const asked = await runStead(["cluster", "drain", "n0", "--cluster", schema.url]);
      assert.equal(asked.code, 0, asked.stderr);
      await waitFor(() => drained.child.exitCode !== null, "the drained node to stop", 20_000);
      assert.equal(drained.child.exitCode, 0, "the drained node stopped cleanly");
      assert.deepEqual(await append(other, "d", "2"), { list: ["1", "2"], node: "n1" });
    } finally {
      for (const node of nodes) await node.stop().catch(() => {});
      for (const dir of dirs) dir[Symbol.dispose]();
    }
  });

  it("refuses to start a cluster node without a secret or an advertised address, naming the fix", async () => {
    using data = tempDataDir();
    const base = [APP, "--data-dir", data.path, "--cluster", "postgres://127.0.0.1/x"];
    const noSecret = await runStead(["start", ...base, "--advertise", "127.0.0.1:7400"], {
      env: { STEAD_CLUSTER_SECRET: "" },
    });
    assert.equal(noSecret.code, 1);
    assert.match(noSecret.stderr, /needs STEAD_CLUSTER_SECRET/);
    const noAddress = await runStead(["start", ...base], { env: { STEAD_CLUSTER_SECRET: SECRET } });
    assert.equal(noAddress.code, 1);
    assert.match(noAddress.stderr, /--advertise \/ STEAD_CLUSTER_ADVERTISE must be the host:port/);
  });
});

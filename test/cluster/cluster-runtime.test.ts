// Cluster nodes as createRuntime({ storage, cluster }) in one process, each with its own data
// directory and listener: one node holds each object, the others forward fetch (streamed bodies)
// and RPC to it, and a node that leaves gives its objects to the next that asks.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AdminApi } from "../../src/admin/admin-api.ts";
import { prometheusText } from "../../src/admin/metrics/prometheus-text.ts";
import { runtimeAdmin } from "../../src/embedded/runtime-admin.ts";
import { createRuntime, type D1Database, type Runtime } from "../../src/index.ts";
import type { Served } from "../fixtures/cluster-worker.ts";
import { adminOf } from "../support/admin.ts";
import { freePort } from "../support/free-port.ts";
import { oncePerCheck, tempSchema } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { waitFor } from "../support/wait-for.ts";

const MAIN = new URL("../fixtures/cluster-worker.ts", import.meta.url);
const SECRET = "a-cluster-secret-for-tests";

async function startNode(
  node: string,
  storage: string,
  options: { threads?: number; secret?: string } = {},
): Promise<Runtime & { dir: { path: string } & Disposable }> {
  const dir = tempDataDir("stead-cluster-");
  const port = await freePort();
  const rt = await createRuntime({
    main: MAIN,
    durableObjects: { LOG: "Log" },
    d1_databases: [{ binding: "DB", database_name: "shared" }],
    vars: { NODE: node },
    dataDir: dir.path,
    storage,
    threads: options.threads ?? 0,
    cluster: {
      nodeId: node,
      advertise: `127.0.0.1:${port}`,
      secret: options.secret ?? SECRET,
      leaseMs: 2_000,
    },
  });
  return Object.assign(rt, { dir });
}

describe("cluster nodes (createRuntime cluster)", { skip: oncePerCheck() }, () => {
  it("answers the admin API for the whole cluster from any node", async () => {
    await using schema = tempSchema("cluster_admin");
    const n1 = await startNode("n1", schema.url);
    const n2 = await startNode("n2", schema.url, { threads: 2 });
    try {
      await n1.env.LOG.getByName("on-n1").append("a");
      await n2.env.LOG.getByName("on-n2").append("b");
      await using admin = await adminOf(n2);
      const page = await admin.client.list("Log");
      assert.equal(page.total, 2);
      // An object n1 holds: inspected and queried through n2, as events forwarded to n1.
      const inspection = await admin.client.inspect("Log", "on-n1");
      assert.equal(inspection.name, "on-n1");
      assert.equal(inspection.kv.keys, 1);
      const kv = await admin.client.kv("Log", "on-n1");
      assert.deepEqual(
        kv.entries.map(({ key, preview }) => [key, preview]),
        [["list", "[ 'a' ]"]],
      );
      assert.equal(((await n2.env.LOG.getByName("on-n1").read()) as Served).node, "n1");
      // Each node's metrics are its own objects (n2's summed over its threads), labelled with it.
      const n2Admin = runtimeAdmin(n2);
      assert.equal(n2Admin.node, "n2");
      const metrics = await prometheusText(await n2Admin.metrics!(), { node: n2Admin.node! });
      assert.match(metrics, /^stead_objects_active\{class="Log",node="n2"\} 1$/m);
      assert.match(metrics, /^stead_object_activations_total\{class="Log",node="n2"\} 1$/m);
    } finally {
      for (const rt of [n1, n2]) {
        await rt.dispose();
        rt.dir[Symbol.dispose]();
      }
    }
  });

  it("serves a D1 database from one node to all, and from the next once it leaves", async () => {
    await using schema = tempSchema("cluster_d1");
    const n1 = await startNode("n1", schema.url);
    const n2 = await startNode("n2", schema.url, { threads: 2 });
    try {
      const db = (rt: Runtime) => rt.env.DB as D1Database;
      await db(n1).exec("CREATE TABLE visits (node TEXT)\nINSERT INTO visits VALUES ('n1')");
      await db(n2).batch([db(n2).prepare("INSERT INTO visits VALUES (?)").bind("n2")]);
      assert.deepEqual(await db(n1).prepare("SELECT node FROM visits ORDER BY rowid").raw(), [
        ["n1"],
        ["n2"],
      ]);
      await n1.dispose();
      // n2 claims the database once n1 has handed its objects over, with every write in it.
      await db(n2).prepare("INSERT INTO visits VALUES ('after')").run();
      assert.equal(await db(n2).prepare("SELECT count(*) AS n FROM visits").first("n"), 3);
    } finally {
      for (const rt of [n1, n2]) {
        await rt.dispose();
        rt.dir[Symbol.dispose]();
      }
    }
  });

  it("serves each object on one node, forwarding RPC and streamed fetches to it", async () => {
    await using schema = tempSchema("cluster");
    const nodes = [
      await startNode("n1", schema.url),
      await startNode("n2", schema.url),
      await startNode("n3", schema.url, { threads: 2 }),
    ];
    try {
      const [n1, n2, n3] = nodes as unknown as [Runtime, Runtime, Runtime];
      const log = (rt: Runtime, name: string) => rt.env.LOG.getByName(name);
      assert.deepEqual(await log(n1, "a").append("1"), { list: ["1"], node: "n1" });
      assert.deepEqual(await log(n2, "a").append("2"), { list: ["1", "2"], node: "n1" });
      assert.deepEqual(await log(n3, "a").append("3"), { list: ["1", "2", "3"], node: "n1" });
      // A streamed request body and the response's body cross to the holder and back.
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("str"));
          controller.enqueue(new TextEncoder().encode("eamed"));
          controller.close();
        },
      });
      const response = await n2.fetch("http://app/a", {
        method: "POST",
        body,
        duplex: "half",
      } as RequestInit);
      assert.equal(response.headers.get("x-node"), "n1");
      assert.deepEqual(await response.json(), { list: ["1", "2", "3", "streamed"], node: "n1" });
      // An object first asked for on a node with object threads lives there.
      assert.equal(((await log(n3, "b").append("x")) as Served).node, "n3");
      assert.equal(((await log(n1, "b").read()) as Served).node, "n3");
      // What cannot cross nodes fails, naming the fix.
      await assert.rejects(
        log(n2, "a").call(() => {}),
        /cannot be sent to a Durable Object on another cluster node/,
      );
    } finally {
      for (const rt of nodes) {
        await rt.dispose();
        rt.dir[Symbol.dispose]();
      }
    }
  });

  it("gives a leaving node's objects to the next node that asks, with every write kept", async () => {
    await using schema = tempSchema("cluster");
    const n1 = await startNode("n1", schema.url);
    const n2 = await startNode("n2", schema.url);
    try {
      for (let i = 0; i < 5; i++) await n1.env.LOG.getByName(`o${i}`).append("before");
      await n1.dispose();
      for (let i = 0; i < 5; i++) {
        assert.deepEqual(await n2.env.LOG.getByName(`o${i}`).append("after"), {
          list: ["before", "after"],
          node: "n2",
        });
      }
    } finally {
      await n1.dispose();
      await n2.dispose();
      n1.dir[Symbol.dispose]();
      n2.dir[Symbol.dispose]();
    }
  });

  it("runs each alarm once, on the node that holds its object, or on another once it left", async () => {
    await using schema = tempSchema("cluster");
    const n1 = await startNode("n1", schema.url);
    const n2 = await startNode("n2", schema.url);
    try {
      const held = n1.env.LOG.getByName("held");
      const moved = n1.env.LOG.getByName("moved");
      await held.append("x");
      await moved.append("x");
      await held.schedule(50);
      await waitFor(async () => (await held.read()).list.length === 2, "the held object's alarm");
      assert.deepEqual((await n2.env.LOG.getByName("held").read()).list, ["x", "alarm@n1"]);
      await moved.schedule(300);
      await n1.dispose();
      const again = n2.env.LOG.getByName("moved");
      await waitFor(async () => (await again.read()).list.length === 2, "the alarm on n2", 10_000);
      assert.deepEqual(await again.read(), { list: ["x", "alarm@n2"], node: "n2" });
    } finally {
      await n1.dispose();
      await n2.dispose();
      n1.dir[Symbol.dispose]();
      n2.dir[Symbol.dispose]();
    }
  });

  it("passes a WebSocket to the node holding its object, and closes it with 1012 when that node leaves", async () => {
    await using schema = tempSchema("cluster");
    const n1 = await startNode("n1", schema.url);
    const n2 = await startNode("n2", schema.url, { threads: 2 });
    try {
      await n1.env.LOG.getByName("ws").append("a");
      const connect = async (rt: Runtime) => {
        const response = await rt.fetch("http://app/ws", { headers: { upgrade: "websocket" } });
        assert.equal(response.status, 101);
        const ws = response.webSocket!;
        ws.accept();
        const messages: Served[] = [];
        const closed = new Promise<number>((resolve) =>
          ws.addEventListener("close", (event) => resolve((event as CloseEvent).code)),
        );
        ws.addEventListener("message", (event) =>
          messages.push(JSON.parse((event as MessageEvent).data as string) as Served),
        );
        return { ws, messages, closed };
      };
      const first = await connect(n2);
      first.ws.send("b");
      await waitFor(() => first.messages.length === 1, "the answer through the link");
      assert.deepEqual(first.messages[0], { list: ["a", "b"], node: "n1" });
      await n1.dispose();
      assert.equal(await first.closed, 1012, "closed as a service restart: reconnect");
      const second = await connect(n2);
      second.ws.send("c");
      await waitFor(() => second.messages.length === 1, "the answer from the new holder");
      assert.deepEqual(second.messages[0], { list: ["a", "b", "c"], node: "n2" });
      second.ws.close(1000, "done");
    } finally {
      await n1.dispose();
      await n2.dispose();
      n1.dir[Symbol.dispose]();
      n2.dir[Symbol.dispose]();
    }
  });

  it("lists every node's objects with their names from any node (admin API), by prefix", async () => {
    await using schema = tempSchema("cluster_names");
    const n1 = await startNode("n1", schema.url);
    const n2 = await startNode("n2", schema.url, { threads: 2 });
    try {
      // Each object lives on the node first asked for it: these on n1, those on n2's threads.
      for (const name of ["team-a", "other-1"]) await n1.env.LOG.getByName(name).append("x");
      for (const name of ["team-b", "team-c"]) await n2.env.LOG.getByName(name).append("x");
      assert.equal(((await n1.env.LOG.getByName("team-c").read()) as Served).node, "n2");
      for (const rt of [n1, n2]) {
        const api = new AdminApi(runtimeAdmin(rt));
        const all = await api.list("Log");
        assert.deepEqual(all.objects.map((o) => o.name).sort(), [
          "other-1",
          "team-a",
          "team-b",
          "team-c",
        ]);
        const teams = await api.list("Log", { prefix: "team-", limit: 2 });
        assert.equal(teams.total, 3);
        const next = await api.list("Log", { prefix: "team-", cursor: teams.cursor! });
        assert.deepEqual([...teams.objects, ...next.objects].map((o) => o.name).sort(), [
          "team-a",
          "team-b",
          "team-c",
        ]);
      }
    } finally {
      for (const rt of [n1, n2]) {
        await rt.dispose();
        rt.dir[Symbol.dispose]();
      }
    }
  });

  it("refuses a cluster without storage or with a short secret, naming the option", async () => {
    await assert.rejects(
      createRuntime({
        main: MAIN,
        durableObjects: { LOG: "Log" },
        cluster: { nodeId: "n1", advertise: "127.0.0.1:7400", secret: SECRET },
      }),
      /cluster: needs storage/,
    );
    await assert.rejects(
      createRuntime({
        main: MAIN,
        durableObjects: { LOG: "Log" },
        storage: "postgres://127.0.0.1/x",
        cluster: { nodeId: "n 1", advertise: "127.0.0.1", secret: "short" },
      }),
      /cluster\.nodeId[\s\S]*cluster\.advertise[\s\S]*cluster\.secret/,
    );
  });
});

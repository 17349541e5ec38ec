// A history checker for the cluster: clients append to and read lists on a few objects through
// random nodes while a nemesis kills (SIGKILL), pauses (SIGSTOP past the lease) and restarts
// (SIGTERM) nodes. The recorded history must be one a single copy of each object could give:
// every acknowledged append is in the final list once, in acknowledgement order; every read is a
// prefix of the final list; reads never go back. A second live instance of an object (or a lost
// or replayed write) breaks one of these. Seeded: STEAD_HISTORY_SEED=<n> replays a run's choices.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Served } from "../fixtures/cluster-worker.ts";
import { freePort } from "../support/free-port.ts";
import { mulberry32 as seededRandom } from "../support/seeded-random.ts";
import { type SteadProcess, startStead } from "../support/stead-process.ts";
import { oncePerCheck, tempSchema } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { waitFor } from "../support/wait-for.ts";

const APP = new URL("../fixtures/cluster-app", import.meta.url).pathname;
const SECRET = "history-cluster-secret-0123456789";
const LEASE_MS = 2_000;
const NODES = 3;
const OBJECTS = 6;
const CLIENTS = 8;
const RUN_MS = Number(process.env.STEAD_HISTORY_MS ?? 25_000);

interface Op {
  kind: "append" | "read";
  object: string;
  value: string;
  invokedAt: number;
  /** Set when acknowledged. */
  ackedAt?: number;
  /** A read's answer. */
  list?: string[];
}

describe("cluster history under kills, pauses and restarts", { skip: oncePerCheck() }, () => {
  it("gives every object one history a single copy could have given", async (t) => {
    const seed = Number(process.env.STEAD_HISTORY_SEED ?? Date.now() % 1_000_000);
    t.diagnostic(`seed ${seed} (replay with STEAD_HISTORY_SEED=${seed})`);
    const random = seededRandom(seed);
    await using schema = tempSchema("history");
    const dirs = Array.from({ length: NODES }, () => tempDataDir());
    const nodes: Array<SteadProcess | undefined> = [];
    const paused = new Set<number>();
    const start = async (i: number) => {
      const port = await freePort();
      nodes[i] = await startStead(
        "start",
        [APP, "--data-dir", dirs[i]!.path, "--host", "127.0.0.1", "--threads", "0"],
        {
          env: {
            STEAD_CLUSTER_URL: schema.url,
            STEAD_STORAGE_URL: schema.url,
            STEAD_CLUSTER_NODE_ID: `n${i}`,
            STEAD_CLUSTER_ADVERTISE: `127.0.0.1:${port}`,
            STEAD_CLUSTER_SECRET: SECRET,
            STEAD_CLUSTER_LEASE_MS: String(LEASE_MS),
          },
        },
      );
    };
    try {
      for (let i = 0; i < NODES; i++) await start(i);
      const history: Op[] = [];
      const faults: string[] = [];
      let running = true;
      const live = () =>
        nodes.flatMap((node, i) => (node !== undefined && !paused.has(i) ? [node] : []));
      const client = async (c: number) => {
        const mine = seededRandom(seed * 31 + c);
        for (let n = 0; running; n++) {
          const choices = live();
          if (choices.length === 0) {
            await new Promise((resolve) => setTimeout(resolve, 20));
            continue;
          }
          const node = choices[Math.floor(mine() * choices.length)]!;
          const object = `h${Math.floor(mine() * OBJECTS)}`;
          const append = mine() < 0.7;
          const op: Op = {
            kind: append ? "append" : "read",
            object,
            value: `c${c}-${n}`,
            invokedAt: performance.now(),
          };
          history.push(op);
          try {
            const response = await fetch(`${node.url}/${object}`, {
              method: append ? "POST" : "GET",
              ...(append ? { body: op.value } : {}),
              signal: AbortSignal.timeout(5_000),
            });
            if (response.ok) {
              op.list = ((await response.json()) as Served).list;
              op.ackedAt = performance.now();
            } else {
              await response.body?.cancel();
            }
          } catch {
            // Unknown outcome: the append may or may not have happened.
          }
        }
      };
      const nemesis = async () => {
        while (running) {
          await new Promise((resolve) => setTimeout(resolve, 1_500 + random() * 1_500));
          if (!running) break;
          const i = Math.floor(random() * NODES);
          const node = nodes[i];
          if (node === undefined || live().length < 2) continue;
          const action = random();
          if (action < 0.4) {
            faults.push(`kill -9 n${i}`);
            nodes[i] = undefined;
            await node.stop("SIGKILL");
            await new Promise((resolve) => setTimeout(resolve, random() * LEASE_MS));
            await start(i);
          } else if (action < 0.7) {
            faults.push(`pause n${i}`);
            paused.add(i);
            node.child.kill("SIGSTOP");
            await new Promise((resolve) => setTimeout(resolve, LEASE_MS + random() * LEASE_MS));
            node.child.kill("SIGCONT");
            paused.delete(i);
          } else {
            faults.push(`restart n${i}`);
            nodes[i] = undefined;
            await node.stop("SIGTERM");
            await start(i);
          }
        }
      };
      const clients = Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
      const faulting = nemesis();
      await new Promise((resolve) => setTimeout(resolve, RUN_MS));
      running = false;
      await Promise.all([clients, faulting]);

      // The final lists, read through a node once the last fault has healed (an object of a
      // node killed last is served again once that node's lease has ended).
      const reader = live()[0]!;
      const final = new Map<string, string[]>();
      for (let o = 0; o < OBJECTS; o++) {
        await waitFor(
          async () => {
            const response = await fetch(`${reader.url}/h${o}`);
            if (response.status !== 200) {
              await response.body?.cancel();
              return false;
            }
            final.set(`h${o}`, ((await response.json()) as Served).list);
            return true;
          },
          `h${o} to be served again`,
          20_000,
        );
      }
      const acked = history.filter((op) => op.ackedAt !== undefined);
      t.diagnostic(
        `${history.length} operations, ${acked.length} acknowledged; faults: ${faults.join(", ") || "none"}`,
      );
      for (const [object, list] of final) {
        assert.equal(new Set(list).size, list.length, `${object}: no append applied twice`);
        const position = new Map(list.map((value, index) => [value, index]));
        const ops = acked.filter((op) => op.object === object);
        const appends = ops.filter((op) => op.kind === "append");
        for (const op of appends) {
          assert.ok(position.has(op.value), `${object}: acknowledged ${op.value} is in the list`);
        }
        // One acknowledged before another began: in that order.
        for (const a of appends) {
          for (const b of appends) {
            if (a.ackedAt! < b.invokedAt) {
              assert.ok(
                position.get(a.value)! < position.get(b.value)!,
                `${object}: ${a.value} was acknowledged before ${b.value} began`,
              );
            }
          }
        }
        // Every answer is a prefix of the final list, and answers never go back.
        for (const op of ops) {
          assert.deepEqual(
            op.list,
            list.slice(0, op.list!.length),
            `${object}: an answer is a prefix`,
          );
        }
        for (const a of ops) {
          for (const b of ops) {
            if (a.ackedAt! < b.invokedAt) {
              assert.ok(a.list!.length <= b.list!.length, `${object}: a later answer went back`);
            }
          }
        }
      }
    } finally {
      for (const [i, node] of nodes.entries()) {
        if (paused.has(i)) node?.child.kill("SIGCONT");
        await node?.stop().catch(() => {});
      }
      for (const dir of dirs) dir[Symbol.dispose]();
    }
  });
});

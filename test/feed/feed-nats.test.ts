import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createRuntime } from "stead";
import { runtimeAdmin } from "../../src/embedded/runtime-admin.ts";
import { CRASH_SEED, runAndKill } from "../support/crash-workload.ts";
import { testStore } from "../support/storage.ts";

const WORKER = new URL("../fixtures/feed-worker.ts", import.meta.url);
const CHILD = fileURLToPath(new URL("../fixtures/feed-crash-child.ts", import.meta.url));
const NATS = "127.0.0.1:4222";

interface Message {
  class: string;
  id: string;
  seq: number;
  changes: Array<{ kind: string; op: string; table?: string; key: unknown }>;
}

/** A stream of its own for one test, deleted when disposed. */
async function natsStream() {
  const suffix = randomBytes(5).toString("hex");
  const stream = `FEED_${suffix}`;
  const prefix = `feed_${suffix}`;
  const nc = await connect({ servers: NATS });
  return {
    stream,
    prefix,
    url: `nats://${NATS}?prefix=${prefix}&stream=${stream}`,
    /** Every message of the stream, in stream order. */
    async messages(): Promise<{ subject: string; msgId: string | undefined; body: Message }[]> {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(stream);
      const out = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const msg = await jsm.streams.getMessage(stream, { seq });
        if (msg === null) continue;
        out.push({
          subject: msg.subject,
          msgId: msg.header?.get("Nats-Msg-Id"),
          body: msg.json<Message>(),
        });
      }
      return out;
    },
    async [Symbol.asyncDispose]() {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(stream).catch(() => {});
      await nc.close();
    },
  };
}

describe("change feed into NATS JetStream", () => {
  it("publishes one message per commit on the class's subject, with the commit as message id", async () => {
    await using nats = await natsStream();
    await using rt = await createRuntime({
      main: WORKER,
      durableObjects: { CART: "Cart" },
      feed: { classes: ["Cart"], sinks: [nats.url] },
    });
    const cart = (rt.env.CART as any).getByName("a");
    await cart.exec([
      ["CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)"],
      ["INSERT INTO items VALUES (1, 'x')"],
      ["INSERT INTO items VALUES (2, 'y')"],
    ]);
    await cart.put("k", { n: 1 });
    await cart.exec([["DELETE FROM items WHERE id = 1"]]);
    await runtimeAdmin(rt).feed!.drained();
    const id = cart.id.toString();
    const messages = await nats.messages();
    assert.deepEqual(
      messages.map((m) => [
        m.subject,
        m.msgId,
        m.body.seq,
        m.body.changes.map((c) => `${c.kind} ${c.op}`),
      ]),
      [
        [`${nats.prefix}.Cart`, `Cart/${id}/1`, 1, ["row insert", "row insert"]],
        [`${nats.prefix}.Cart`, `Cart/${id}/2`, 2, ["kv put"]],
        [`${nats.prefix}.Cart`, `Cart/${id}/3`, 3, ["row delete"]],
      ],
    );
    assert.deepEqual(messages[2]!.body.changes[0]!.key, { id: 1 });
  });

  it(`after SIGKILLs mid-stream, every message is exactly one commit, none missing (seed ${CRASH_SEED})`, async () => {
    await using nats = await natsStream();
    using store = testStore("stead-feed-nats-");
    const env = { ...store.env, FEED_SINK: nats.url };
    for (let run = 0; run < 2; run++) {
      const child = await runAndKill({ dataDir: store.dataDir, env }, run, CRASH_SEED, 150, CHILD);
      assert.equal(child.signal, "SIGKILL", child.stderr);
    }
    await using rt = await createRuntime({
      main: WORKER,
      durableObjects: { CART: "Cart" },
      ...store.options,
      feed: { classes: ["Cart"], sinks: [nats.url] },
    });
    await runtimeAdmin(rt).feed!.drained();
    const messages = await nats.messages();
    const seen = new Map<string, number[]>();
    for (const m of messages) {
      assert.equal(m.msgId, `Cart/${m.body.id}/${m.body.seq}`);
      seen.set(m.body.id, [...(seen.get(m.body.id) ?? []), m.body.seq]);
    }
    assert.ok(seen.size > 0);
    for (const [id, seqs] of seen) {
      // Each object's commits 1..n, each once, in commit order.
      assert.deepEqual(
        seqs,
        Array.from({ length: seqs.length }, (_, i) => i + 1),
        `object ${id}`,
      );
    }
  });
});

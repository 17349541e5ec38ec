// A queue send is an output of the object that makes it: a message sent after a write is stored
// (visible to the consumer) only once that write is durable, as an outgoing fetch is held.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createRuntime, LocalDriver } from "../../src/index.ts";
import { delivered, deliveries, QUEUES_WORKER } from "../bindings/queues.case.ts";
import { Flushes, LIMIT, NEEDS_FLUSH_HOOKS } from "../support/durability-harness.ts";
import { isPending } from "../support/event-loop.ts";
import { tempDataDir } from "../support/temp-dir.ts";

/** The queues app on the local driver, its object flushes held or failed through `flushes`. */
function queueRuntime(dataDir: string, flushes: Flushes) {
  return createRuntime({
    main: QUEUES_WORKER,
    durableObjects: { INBOX: "Inbox", WRITER: "Writer" },
    driver: new LocalDriver({ dataDir, beforeFlush: flushes.hook }),
    dataDir,
    queues: {
      producers: [{ queue: "jobs", binding: "JOBS" }],
      consumers: [{ queue: "jobs", max_batch_size: 1, max_batch_timeout: 0 }],
    },
    onError: () => {},
  });
}

describe("queue sends and the output gate", NEEDS_FLUSH_HOOKS, () => {
  it(
    "a message sent after a write reaches the queue only once the write is durable",
    LIMIT,
    async () => {
      using dir = tempDataDir("stead-queue-gate-");
      const flushes = new Flushes();
      await using rt = await queueRuntime(dir.path, flushes);
      const writer = rt.env.WRITER.idFromName("w").toString();
      flushes.hold(writer);
      const sent = rt.env.WRITER.getByName("w").writeAndSend("v1");
      await flushes.started(writer, 1);
      // A message sent later, from outside the object, is delivered while the write is held...
      await rt.env.JOBS.send({ marker: 1 });
      await delivered(rt, 1, (d) => JSON.stringify(d.body) === '{"marker":1}');
      // ...and the object's message is not: it has not left the object yet.
      assert.ok(await isPending(sent), "send waits for the write");
      assert.deepEqual(
        (await deliveries(rt)).map((d) => d.body),
        [{ marker: 1 }],
      );
      flushes.release(writer);
      assert.equal(await sent, "sent");
      await delivered(rt, 1, (d) => JSON.stringify(d.body) === '{"value":"v1"}');
      assert.equal(await rt.env.WRITER.getByName("w").value(), "v1");
    },
  );

  it(
    "a message sent after a write that fails to become durable is never stored",
    LIMIT,
    async () => {
      using dir = tempDataDir("stead-queue-gate-");
      const flushes = new Flushes();
      await using rt = await queueRuntime(dir.path, flushes);
      const writer = rt.env.WRITER.idFromName("w").toString();
      flushes.fail(writer);
      await assert.rejects(rt.env.WRITER.getByName("w").writeAndSend("lost"));
      flushes.heal(writer);
      await rt.env.JOBS.send({ marker: 2 });
      await delivered(rt, 1, (d) => JSON.stringify(d.body) === '{"marker":2}');
      assert.deepEqual(
        (await deliveries(rt)).map((d) => d.body),
        [{ marker: 2 }],
      );
    },
  );
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/index.ts";
import { runInDurableObject } from "../../src/testing/index.ts";
import {
  LIMIT,
  NEEDS_FLUSH_HOOKS,
  startRuntime,
  startWithFlushes,
} from "../support/durability-harness.ts";
import { isPending } from "../support/event-loop.ts";
import { waitFor } from "../support/wait-for.ts";

describe("output gate", NEEDS_FLUSH_HOOKS, () => {
  it("holds an RPC result until the write before it is durable", LIMIT, async () => {
    await using t = await startWithFlushes();
    const stub = t.env.STORE.getByName("a");
    const id = t.idOf("a");
    t.flushes.hold(id);

    const awaited = stub.put("k", 1);
    await t.flushes.started(id, 1);
    assert.equal(await isPending(awaited), true, "put() resolved before its flush finished");
    t.flushes.release(id);
    assert.equal(await awaited, undefined);

    // A method that never awaits its write is held the same way.
    t.flushes.hold(id);
    const unawaited = stub.putNoAwait("k", 2);
    await t.flushes.started(id, 2);
    assert.equal(
      await isPending(unawaited),
      true,
      "putNoAwait() resolved before its flush finished",
    );
    t.flushes.release(id);
    assert.equal(await unawaited, "done");
    assert.equal(await stub.get("k"), 2);
  });

  it("holds a stub.fetch response until the write before it is durable", LIMIT, async () => {
    await using t = await startWithFlushes();
    const stub = t.env.STORE.getByName("a");
    const id = t.idOf("a");
    t.flushes.hold(id);

    const response = stub.fetch("http://do/put?key=k&value=v");
    await t.flushes.started(id, 1);
    assert.equal(await isPending(response), true, "the response left before the write was durable");
    t.flushes.release(id);
    assert.equal(await (await response).text(), "stored");
    assert.deepEqual(await (await stub.fetch("http://do/get?key=k")).json(), { value: "v" });
  });

  it("holds a Worker's response that wrote through an object", LIMIT, async () => {
    await using t = await startWithFlushes();
    const id = t.idOf("w");

    t.flushes.hold(id);
    const viaFetch = t.rt.fetch("http://worker/put?name=w&key=a&value=1");
    await t.flushes.started(id, 1);
    assert.equal(await isPending(viaFetch), true, "rt.fetch resolved before the write was durable");
    t.flushes.release(id);
    assert.equal(await (await viaFetch).text(), "stored");

    t.flushes.hold(id);
    const viaRpc = t.rt.fetch("http://worker/rpc-put?name=w&key=b&value=2");
    await t.flushes.started(id, 2);
    assert.equal(
      await isPending(viaRpc),
      true,
      "rt.fetch resolved before the RPC write was durable",
    );
    t.flushes.release(id);
    assert.equal(await (await viaRpc).text(), "stored over rpc");

    const read = await t.rt.fetch("http://worker/get?name=w&key=b");
    assert.deepEqual(await read.json(), { value: "2" });
  });

  it("does not hold a read-only call", LIMIT, async () => {
    await using t = await startWithFlushes();
    const stub = t.env.STORE.getByName("a");
    const id = t.idOf("a");
    await stub.put("k", "stored");
    const before = t.flushes.count(id);

    t.flushes.hold(id);
    assert.equal(await stub.get("k"), "stored");
    const response = await stub.fetch("http://do/get?key=k");
    assert.deepEqual(await response.json(), { value: "stored" });
    assert.equal(t.flushes.count(id), before, "a read needed a flush");
  });

  it("does not hold allowUnconfirmed writes, and sync() waits for them", LIMIT, async () => {
    await using t = await startWithFlushes();
    const stub = t.env.STORE.getByName("a");
    const id = t.idOf("a");
    t.flushes.hold(id);

    await stub.putUnconfirmed("k", "unconfirmed");
    await t.flushes.started(id, 1);
    assert.equal(await stub.get("k"), "unconfirmed");

    const synced = stub.sync();
    assert.equal(await isPending(synced), true, "sync() resolved before the write was durable");
    t.flushes.release(id);
    assert.equal(await synced, "synced");
    // With nothing pending, sync() resolves at once.
    t.flushes.hold(id);
    assert.equal(await stub.sync(), "synced");
  });

  it("commits writes made with no intervening await atomically, in one flush", LIMIT, async () => {
    await using t = await startWithFlushes();
    const stub = t.env.STORE.getByName("a");
    const id = t.idOf("a");
    await stub.put("warm-up", true);
    const before = t.flushes.count(id);

    await stub.putThree("p");
    assert.equal(
      t.flushes.count(id) - before,
      1,
      "three puts in one turn took more than one flush",
    );
    assert.deepEqual(
      [await stub.get("p:1"), await stub.get("p:2"), await stub.get("p:3")],
      [1, 2, 3],
    );
  });

  it("holds the output of an event queued behind another event's write", LIMIT, async () => {
    await using t = await startWithFlushes();
    const id = t.idOf("a");
    t.flushes.hold(id);

    const write = t.env.STORE.getByName("a").put("k", "new");
    await t.flushes.started(id, 1);
    // Another caller reads the not-yet-durable value: its answer must wait for the flush too.
    const read = t.env.STORE.getByName("a").get("k");
    assert.equal(await isPending(write), true);
    assert.equal(await isPending(read), true, "a read of an undurable value left the object");
    t.flushes.release(id);
    assert.equal(await write, undefined);
    assert.equal(await read, "new");
  });
});

describe("resets", () => {
  it(
    "ctx.abort() fails the outputs of its turn, resets the instance and keeps durable data",
    LIMIT,
    async () => {
      await using t = await startRuntime();
      const stub = t.env.STORE.getByName("a");
      await stub.put("durable", 1);
      await stub.setMemo("in memory");
      const generation = await stub.generation();

      const error = await stub.putThenAbort("lost", 2, "aborted by the test").then(
        () => assert.fail("putThenAbort() resolved"),
        (e: any) => e,
      );
      assert.equal(error.message, "aborted by the test");
      assert.equal(error.retryable, true);

      const fresh = t.env.STORE.getByName("a");
      assert.equal(await fresh.get("lost"), undefined, "the write of the aborted turn was kept");
      assert.equal(await fresh.get("durable"), 1);
      assert.equal(await fresh.getMemo(), undefined, "in-memory state survived the reset");
      assert.ok((await fresh.generation()) > generation, "the constructor did not run again");
    },
  );

  it("ctx.abort() fails outputs held by another event's write", {
    ...LIMIT,
    ...NEEDS_FLUSH_HOOKS,
  }, async () => {
    await using t = await startWithFlushes();
    const id = t.idOf("a");
    await t.env.STORE.getByName("a").put("durable", 1);
    t.flushes.hold(id);

    const held = t.env.STORE.getByName("a").put("k", 2);
    await t.flushes.started(id, 2);
    await assert.rejects(t.env.STORE.getByName("a").abort("stop"), {
      message: "stop",
      retryable: true,
    });
    await assert.rejects(held, { message: "stop", retryable: true });
    t.flushes.release(id);
    assert.equal(await t.env.STORE.getByName("a").get("durable"), 1);
  });

  it("blockConcurrencyWhile() that throws resets the object", LIMIT, async () => {
    await using t = await startRuntime();
    const stub = t.env.STORE.getByName("a");
    await stub.put("durable", 1);
    await stub.setMemo("in memory");
    const generation = await stub.generation();

    await assert.rejects(stub.blockAndThrow("boom"), /boom/);
    const fresh = t.env.STORE.getByName("a");
    assert.equal(await fresh.getMemo(), undefined);
    assert.ok((await fresh.generation()) > generation);
    assert.equal(await fresh.get("durable"), 1);
  });

  it(
    "blockConcurrencyWhile() past its timeout resets the object with Cloudflare's message",
    LIMIT,
    async () => {
      const clock = new ManualClock();
      await using t = await startRuntime({ clock, objects: { blockConcurrencyTimeoutMs: 1_000 } });
      const stub = t.env.STORE.getByName("a");
      await stub.put("durable", 1);
      const generation = await stub.generation();

      let started = false;
      const never = Promise.withResolvers<void>();
      const blocked = runInDurableObject(stub, (_instance, ctx) =>
        ctx.blockConcurrencyWhile(async () => {
          started = true;
          await never.promise;
        }),
      );
      blocked.catch(() => {});
      await waitFor(() => started, "blockConcurrencyWhile to start");
      const queued = t.env.STORE.getByName("a").get("durable");

      await clock.advance(999);
      assert.equal(await isPending(blocked), true, "reset before the timeout");
      assert.equal(await isPending(queued), true, "an event ran during blockConcurrencyWhile");
      await clock.advance(1);
      await assert.rejects(blocked, {
        message:
          "A call to blockConcurrencyWhile() in a Durable Object waited for too long. The call was canceled and the Durable Object was reset.",
      });
      assert.equal(await queued, 1, "the queued event did not run on the new instance");
      assert.ok((await t.env.STORE.getByName("a").generation()) > generation);
      never.resolve();
    },
  );

  it("blockConcurrencyWhile() holds back other events until it ends", LIMIT, async () => {
    await using t = await startRuntime();
    const stub = t.env.STORE.getByName("a");
    const order: string[] = [];

    // Without it, an event awaiting outside I/O lets the next event in.
    const open = Promise.withResolvers<void>();
    const unblocked = runInDurableObject(stub, async () => {
      order.push("plain start");
      await open.promise;
      order.push("plain end");
    });
    await waitFor(() => order.length === 1, "the plain event to start");
    await stub.get("k").then(() => order.push("get"));
    open.resolve();
    await unblocked;
    assert.deepEqual(order, ["plain start", "get", "plain end"]);

    order.length = 0;
    const gate = Promise.withResolvers<void>();
    const blocked = runInDurableObject(stub, (_instance, ctx) =>
      ctx.blockConcurrencyWhile(async () => {
        order.push("block start");
        await gate.promise;
        order.push("block end");
      }),
    );
    await waitFor(() => order.length === 1, "blockConcurrencyWhile to start");
    const read = stub.get("k").then(() => order.push("get"));
    assert.equal(await isPending(read), true, "an event ran during blockConcurrencyWhile");
    gate.resolve();
    await Promise.all([blocked, read]);
    assert.deepEqual(order, ["block start", "block end", "get"]);
  });

  it("blockConcurrencyWhile() in the constructor gates the first event", LIMIT, async () => {
    await using t = await startRuntime();
    const ready = t.env.SLOW.getByName("s1").isReady();
    assert.equal(
      await isPending(ready),
      true,
      "the first event ran before the constructor's block ended",
    );
    await t.env.LATCH.getByName("latches").release("s1");
    assert.equal(await ready, true);
  });
});

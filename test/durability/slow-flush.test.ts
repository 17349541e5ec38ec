import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/index.ts";
import { LIMIT, NEEDS_FLUSH_HOOKS, startWithFlushes } from "../support/durability-harness.ts";
import { isPending, turn } from "../support/event-loop.ts";

describe("a slow flush", NEEDS_FLUSH_HOOKS, () => {
  it("delays only its own object: others read, write and answer meanwhile", LIMIT, async () => {
    await using t = await startWithFlushes();
    const a = t.env.STORE.getByName("a");
    const b = t.env.STORE.getByName("b");
    const idA = t.idOf("a");
    const idB = t.idOf("b");
    await b.put("seed", 0);
    t.flushes.hold(idA);

    const slow = a.put("k", "slow");
    await t.flushes.started(idA, 1);

    // The event loop keeps turning: immediates and timers fire while A's flush is held.
    await turn();
    await new Promise((resolve) => setTimeout(resolve, 0));

    const flushesOfB = t.flushes.count(idB);
    for (let i = 0; i < 50; i++) {
      await b.put(`k${i}`, i);
      assert.equal(await b.get(`k${i}`), i);
    }
    assert.equal(await b.get("seed"), 0);
    assert.equal(t.flushes.count(idB) - flushesOfB, 50, "B's writes were not each made durable");
    const response = await b.fetch("http://do/put?key=f&value=v");
    assert.equal(await response.text(), "stored");

    assert.equal(
      await isPending(slow),
      true,
      "A's write was acknowledged before its flush finished",
    );
    t.flushes.release(idA);
    assert.equal(await slow, undefined);
    assert.equal(await a.get("k"), "slow");
  });

  it("batches the commits that queue up behind it into one more flush", LIMIT, async () => {
    await using t = await startWithFlushes();
    const a = t.env.STORE.getByName("a");
    const id = t.idOf("a");
    t.flushes.hold(id);

    const first = a.put("k0", 0);
    await t.flushes.started(id, 1);
    // Each call is its own event and its own commit; all of them wait behind the held flush.
    const queued = Array.from({ length: 10 }, (_, i) => a.put(`k${i + 1}`, i + 1));
    for (const write of queued) assert.equal(await isPending(write, 2), true);
    t.flushes.release(id);
    await Promise.all([first, ...queued]);
    assert.equal(t.flushes.count(id), 2, "queued commits were not made durable together");
    for (let i = 0; i <= 10; i++) assert.equal(await a.get(`k${i}`), i);
  });
  it(
    "commits the writes waiting behind it when the object leaves memory meanwhile",
    LIMIT,
    async () => {
      const clock = new ManualClock();
      await using t = await startWithFlushes({ clock, objects: { idleTimeoutMs: 1_000 } });
      const a = t.env.STORE.getByName("a");
      const id = t.idOf("a");
      t.flushes.hold(id);
      // An unconfirmed write holds no output: the flush it commits in is its own business.
      await a.putUnconfirmed("first", 1);
      await t.flushes.started(id, 1);
      // This one waits for the held flush to commit (it joins the next commit, not this one),
      // and its event ends at once: nothing keeps the object in memory.
      await a.putUnconfirmed("second", 2);
      await clock.advance(1_000);
      t.flushes.release(id);
      // A new instance reads what the evicted one wrote: nothing waiting was rolled back.
      assert.equal(await a.get("first"), 1);
      assert.equal(await a.get("second"), 2);
    },
  );
});

describe("a failed flush", NEEDS_FLUSH_HOOKS, () => {
  it("fails the held call, resets the object and keeps earlier data", LIMIT, async () => {
    await using t = await startWithFlushes();
    const stub = t.env.STORE.getByName("a");
    const id = t.idOf("a");
    await stub.put("durable", "kept");
    await stub.setMemo("in memory");
    const generation = await stub.generation();

    t.flushes.fail(id);
    const error = await stub.put("doomed", 1).then(
      () => assert.fail("a write whose flush failed was acknowledged"),
      (e: any) => e,
    );
    assert.equal(error.retryable, true);
    assert.match(error.message, /could not be made durable.*injected flush failure/);

    // The stub that saw the failure is broken for good.
    await assert.rejects(stub.get("durable"), { retryable: true });
    await assert.rejects(stub.getMemo(), { retryable: true });

    t.flushes.heal(id);
    const fresh = t.env.STORE.getByName("a");
    assert.equal(await fresh.get("durable"), "kept");
    assert.equal(await fresh.getMemo(), undefined, "in-memory state survived the reset");
    assert.ok((await fresh.generation()) > generation, "the constructor did not run again");
    await fresh.put("after", "works");
    assert.equal(await fresh.get("after"), "works");
  });

  it("fails a held fetch response, and every output held behind the write", LIMIT, async () => {
    await using t = await startWithFlushes();
    const id = t.idOf("a");
    await t.env.STORE.getByName("a").put("durable", "kept");
    t.flushes.hold(id);
    t.flushes.fail(id);

    const response = t.env.STORE.getByName("a").fetch("http://do/put?key=k&value=v");
    await t.flushes.started(id, 2);
    const read = t.env.STORE.getByName("a").get("durable");
    const viaWorker = t.rt.fetch("http://worker/get?name=a&key=durable");
    assert.equal(await isPending(read), true, "a read left the object before the write it saw");
    assert.equal(await isPending(viaWorker), true, "a Worker's read left before the write it saw");
    t.flushes.release(id);

    await assert.rejects(response, { retryable: true, message: /could not be made durable/ });
    await assert.rejects(read, { retryable: true, message: /could not be made durable/ });
    await assert.rejects(viaWorker, { retryable: true, message: /could not be made durable/ });

    t.flushes.heal(id);
    assert.equal(await t.env.STORE.getByName("a").get("durable"), "kept");
  });

  it("leaves other objects alone", LIMIT, async () => {
    await using t = await startWithFlushes();
    const a = t.env.STORE.getByName("a");
    const b = t.env.STORE.getByName("b");
    await b.setMemo("b's memory");
    const generationOfB = await b.generation();
    t.flushes.fail(t.idOf("a"));

    const [failed, ok] = await Promise.allSettled([a.put("k", 1), b.put("k", 2)]);
    assert.equal(failed.status, "rejected");
    assert.equal(ok.status, "fulfilled");
    assert.equal(await b.get("k"), 2);
    assert.equal(await b.getMemo(), "b's memory");
    assert.equal(await b.generation(), generationOfB);
  });
});

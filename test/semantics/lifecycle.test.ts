import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createRuntime, ManualClock } from "../../src/index.ts";
import { constructed, latch } from "../fixtures/lifecycle-worker.ts";
import { turn, turns } from "../support/event-loop.ts";
import { storageOptions } from "../support/storage.ts";

// The module itself, not its URL: a URL is bundled into a copy of its own, and these tests
// read state the fixture module keeps.
const main = await import("../fixtures/lifecycle-worker.ts");

async function start(clock: ManualClock, objects: Record<string, number>) {
  return createRuntime({
    main,
    durableObjects: { LIFE: "Lifecycle" },
    clock,
    objects,
    ...storageOptions(),
  });
}

describe("object lifecycle", () => {
  it("constructs lazily, keeps one instance while busy, evicts when idle and reconstructs", async () => {
    const clock = new ManualClock();
    await using rt = await start(clock, { idleTimeoutMs: 10_000 });
    const stub = rt.env.LIFE.getByName("evictee");
    const id = stub.id.toString();
    assert.equal(constructed.get(id), undefined, "a stub alone does not construct the object");
    assert.equal(await stub.bump(), 1);
    await stub.store(7);
    assert.equal(await rt.env.LIFE.getByName("evictee").bump(), 2, "one instance for all stubs");
    await clock.advance(9_999);
    assert.equal(await stub.bump(), 3, "activity resets the idle timer");
    await clock.advance(10_000);
    assert.equal(constructed.get(id), 1);
    assert.equal(await stub.bump(), 1, "in-memory state is gone after eviction");
    assert.equal(constructed.get(id), 2, "the constructor ran again");
    assert.equal(await stub.load(), 7, "storage survives eviction");
  });

  it("does not evict an object while waitUntil work is pending", async () => {
    const clock = new ManualClock();
    await using rt = await start(clock, { idleTimeoutMs: 1_000 });
    const stub = rt.env.LIFE.getByName("busy");
    const release = latch("busy");
    await stub.keepAlive("busy");
    assert.equal(await stub.bump(), 1);
    await clock.advance(5_000);
    assert.equal(await stub.bump(), 2, "still the same instance");
    release();
    await turn();
    await clock.advance(1_000);
    assert.equal(await stub.bump(), 1, "evicted once the work settled");
  });

  it("fails fast with .overloaded once too many events are queued", async () => {
    const clock = new ManualClock();
    await using rt = await start(clock, { maxQueuedEvents: 5 });
    const stub = rt.env.LIFE.getByName("hot");
    // In memory first (a driver may prepare a new instance asynchronously), so the blocking
    // call below starts at once instead of waiting in the queue with the others.
    await stub.ping();
    const release = latch("hot");
    const blocked = stub.block("hot");
    await turn();
    const calls = Array.from({ length: 8 }, () => stub.ping());
    const settled = Promise.allSettled(calls);
    release();
    const results = await settled;
    assert.equal(await blocked, "unblocked");
    const rejected = results.filter((r) => r.status === "rejected");
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 5);
    assert.equal(rejected.length, 3);
    for (const { reason } of rejected as PromiseRejectedResult[]) {
      assert.equal(reason.message, "Durable Object is overloaded. Too many requests queued.");
      assert.equal(reason.overloaded, true);
      assert.equal(reason.code, "OBJECT_OVERLOADED");
    }
  });

  it("fails events that waited in the queue for too long", async () => {
    const clock = new ManualClock();
    await using rt = await start(clock, {
      maxQueueAgeMs: 1_000,
      blockConcurrencyTimeoutMs: 60_000,
    });
    const stub = rt.env.LIFE.getByName("slow");
    await stub.ping();
    const release = latch("slow");
    const blocked = stub.block("slow");
    await turn();
    const late = stub.ping();
    await turn();
    await clock.advance(2_000);
    const fresh = stub.ping();
    release();
    await assert.rejects(late, {
      message: "Durable Object is overloaded. Requests queued for too long.",
      overloaded: true,
    });
    assert.equal(await fresh, "pong");
    assert.equal(await blocked, "unblocked");
  });

  it("holds every other event back during blockConcurrencyWhile", async () => {
    const clock = new ManualClock();
    await using rt = await start(clock, {});
    const stub = rt.env.LIFE.getByName("gate");
    const release = latch("gate");
    const order: string[] = [];
    const blocked = stub.block("gate").then(() => order.push("block"));
    await turn();
    const other = stub.ping().then(() => order.push("ping"));
    await turns(5);
    assert.deepEqual(order, [], "the ping waits for the gate");
    release();
    await Promise.all([blocked, other]);
    assert.deepEqual(order, ["block", "ping"]);
  });

  it("keeps objects independent: a blocked object does not delay another", async () => {
    const clock = new ManualClock();
    await using rt = await start(clock, {});
    const release = latch("one");
    const blocked = rt.env.LIFE.getByName("one").block("one");
    assert.equal(await rt.env.LIFE.getByName("two").ping(), "pong");
    release();
    await blocked;
  });
});

describe("runtime disposal", () => {
  it("fails queued and later calls with RUNTIME_DISPOSED instead of touching closed storage", async () => {
    const clock = new ManualClock();
    const rt = await start(clock, {});
    const stub = rt.env.LIFE.getByName("late");
    await stub.store(1);
    const release = latch("late");
    const blocked = stub.block("late");
    await turn();
    const queued = assert.rejects(stub.load(), { code: "RUNTIME_DISPOSED" });
    await rt.dispose();
    await queued;
    release();
    assert.equal(await blocked, "unblocked", "the running event still finishes");
    await assert.rejects(stub.load(), { code: "RUNTIME_DISPOSED" });
  });
});

describe("objects in memory", () => {
  it("keeps at most objects.maxActive in memory, shedding the least recently active idle ones", async () => {
    const clock = new ManualClock();
    await using rt = await start(clock, { maxActive: 3 });
    const names = ["r0", "r1", "r2", "r3", "r4"];
    for (const name of names) {
      const stub = rt.env.LIFE.getByName(name);
      await stub.store(names.indexOf(name));
      assert.equal(await stub.bump(), 1);
    }
    const ids = names.map((name) => rt.env.LIFE.idFromName(name).toString());
    assert.deepEqual(
      ids.map((id) => constructed.get(id)),
      [1, 1, 1, 1, 1],
    );
    // r4, r3, r2 are the most recent; r0 left memory, so it constructs again and has lost its field.
    assert.equal(await rt.env.LIFE.getByName("r4").bump(), 2, "a recent object stayed in memory");
    assert.equal(await rt.env.LIFE.getByName("r0").bump(), 1, "an old one left memory");
    assert.equal(constructed.get(ids[0]!), 2);
    assert.equal(await rt.env.LIFE.getByName("r0").load(), 0, "its data stayed");
  });

  it("never sheds a busy object", async () => {
    const clock = new ManualClock();
    await using rt = await start(clock, { maxActive: 1 });
    const release = latch("pinned");
    const busy = rt.env.LIFE.getByName("pinned");
    await busy.bump();
    const blocked = busy.block("pinned");
    await turn();
    for (const name of ["o1", "o2", "o3"]) await rt.env.LIFE.getByName(name).ping();
    release();
    assert.equal(await blocked, "unblocked");
    assert.equal(await busy.bump(), 2, "the busy object kept its instance");
  });
});

describe("memory per event", () => {
  it("retains nothing per answered event on a long-lived object", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    await using rt = await start(new ManualClock(), {});
    const stub = rt.env.LIFE.getByName("long-lived");
    const round = () => Promise.all(Array.from({ length: 4000 }, () => stub.load()));
    await round();
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 5; i++) await round();
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    assert.ok(
      grown < 3 * 1024 * 1024,
      `heap grew ${(grown / 1024).toFixed(0)} KiB over 20,000 events`,
    );
  });
});

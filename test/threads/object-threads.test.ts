import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createRuntime, type Runtime } from "../../src/index.ts";
import { HEARTBEAT_MS, shardOf } from "../../src/threads/shard-protocol.ts";
import { type StoreOptions, skipUnless, testStore } from "../support/storage.ts";
import { waitFor } from "../support/wait-for.ts";

const MAIN = new URL("../fixtures/threads-worker.ts", import.meta.url);
const THREADS = 2;

function start(store: StoreOptions, extra: { cpuLimitMs?: number } = {}): Promise<Runtime> {
  return createRuntime({
    main: MAIN,
    durableObjects: { ROOM: "Room" },
    ...store,
    threads: THREADS,
    onError: () => {},
    ...extra,
  });
}

/** Room names whose objects live on different object threads, one per thread. */
function namesOnEachThread(rt: Runtime): string[] {
  const names: string[] = [];
  for (let i = 0; names.length < THREADS; i++) {
    const name = `room-${i}`;
    if (shardOf(rt.env.ROOM.idFromName(name).toString(), THREADS) === names.length) {
      names.push(name);
    }
  }
  return names;
}

describe("objects on object threads (createRuntime threads)", {
  skip: skipUnless("threads", "runs objects on object threads"),
}, () => {
  it("serves RPC and fetch from every thread, and keeps the data across runtimes", async () => {
    using store = testStore();
    {
      await using rt = await start(store.options);
      const [a, b] = namesOnEachThread(rt);
      assert.equal(await rt.env.ROOM.getByName(a).increment(), 1);
      assert.equal(await rt.env.ROOM.getByName(a).increment(), 2);
      assert.equal(await rt.env.ROOM.getByName(b).increment(), 1);
      const response = await rt.fetch(`http://app/${a}/increment`);
      assert.equal(await response.text(), "3");
      const echoed = await rt.fetch(`http://app/${b}/echo`, { method: "POST", body: "streamed" });
      assert.equal(echoed.headers.get("x-room"), b);
      assert.equal(await echoed.text(), "streamed");
    }
    await using again = await start(store.options);
    const [a, b] = namesOnEachThread(again);
    assert.equal(await again.env.ROOM.getByName(a).count(), 3);
    assert.equal(await again.env.ROOM.getByName(b).count(), 1);
  });

  it("lets an object call an object on another thread, by RPC and by fetch", async () => {
    using store = testStore();
    await using rt = await start(store.options);
    const [a, b] = namesOnEachThread(rt);
    assert.equal(await rt.env.ROOM.getByName(a).incrementOther(b), 1);
    assert.equal(await rt.env.ROOM.getByName(b).incrementOther(a), 1);
    assert.equal(await rt.env.ROOM.getByName(a).fetchOther(b), "1");
  });

  it("delivers one caller's calls in the order it made them, a streamed body included", async () => {
    using store = testStore();
    await using rt = await start(store.options);
    const stub = rt.env.ROOM.getByName("ordered");
    let close!: () => void;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("still streaming"));
        close = () => controller.close();
      },
    });
    const fetched = stub.fetch("http://room/mark", {
      method: "POST",
      body,
      duplex: "half",
    } as RequestInit);
    const marked = stub.mark("rpc");
    await marked;
    close();
    assert.equal(await (await fetched).text(), "still streaming");
    assert.deepEqual(await stub.seen(), ["fetch", "rpc"]);
  });

  it("passes functions, RpcTargets and stubs by reference between threads, as on one", async () => {
    using store = testStore();
    await using rt = await start(store.options);
    const [a, b] = namesOnEachThread(rt);
    // The Worker's function, called from an object thread.
    assert.equal(
      await rt.env.ROOM.getByName(a).callBack(async (name: string) => `hello ${name}`),
      `hello ${a}`,
    );
    // An object's function, called from another object thread.
    assert.equal(await rt.env.ROOM.getByName(a).askToCallBack(b), `${b} called ${a}`);
    // An RpcTarget returned by an object stays on its thread, with its state.
    const tally = await rt.env.ROOM.getByName(b).tally();
    assert.equal(await tally.add(2), 2);
    assert.equal(await tally.add(3), 5);
    assert.equal(await tally.total, 5);
    tally[Symbol.dispose]();
    await assert.rejects(tally.add(1), /after it has been disposed/);
    // A stub of an object, passed to an object on another thread.
    assert.equal(await rt.env.ROOM.getByName(a).incrementVia(rt.env.ROOM.getByName(b)), 1);
    assert.equal(await rt.env.ROOM.getByName(b).count(), 1);
    // Ids keep their jurisdiction across threads, in calls and in stubs passed along.
    const eu = rt.env.ROOM.jurisdiction("eu");
    assert.deepEqual(await eu.getByName(a).jurisdictions(eu.getByName(b)), ["eu", "eu"]);
    // Headers, which RPC copies, cross too.
    const headers = await rt.env.ROOM.getByName(a).withHeader(new Headers({ "set-cookie": "x=1" }));
    assert.deepEqual(
      [...headers],
      [
        ["set-cookie", "x=1"],
        ["x-room", a],
      ],
    );
  });

  it("delivers alarms to objects on object threads", async () => {
    using store = testStore();
    await using rt = await start(store.options);
    const [a, b] = namesOnEachThread(rt);
    await rt.env.ROOM.getByName(a).alarmIn(1);
    await rt.env.ROOM.getByName(b).alarmIn(1);
    await waitFor(
      async () =>
        (await rt.env.ROOM.getByName(a).alarms()) === 1 &&
        (await rt.env.ROOM.getByName(b).alarms()) === 1,
      "both alarms to run",
    );
  });

  it("resets a runaway object at its CPU limit while objects on other threads keep answering", async () => {
    using store = testStore();
    await using rt = await start(store.options, { cpuLimitMs: 300 });
    const [runaway, other] = namesOnEachThread(rt);
    await rt.env.ROOM.getByName(runaway).increment();
    await rt.env.ROOM.getByName(other).increment();

    const started = performance.now();
    const spinning = rt.env.ROOM.getByName(runaway)
      .spin()
      .then(
        () => assert.fail("spin() returned"),
        (error: unknown) => ({ error, after: performance.now() - started }),
      );
    // While it spins, the other thread's object answers at its normal speed.
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      await rt.env.ROOM.getByName(other).increment();
      latencies.push(performance.now() - t);
    }
    const { error, after } = await spinning;
    assert.equal((error as { code?: string }).code, "CPU_LIMIT_EXCEEDED");
    assert.match(String((error as Error).message), /exceeded its CPU time limit/);
    // The limit counts from the thread's last heartbeat, at most HEARTBEAT_MS before the call.
    assert.ok(after >= 300 - HEARTBEAT_MS, `failed after ${after} ms, before the limit`);
    assert.ok(Math.max(...latencies) < 250, `other object took ${Math.max(...latencies)} ms`);

    // The runaway object was reset, not lost: its stored data is still there.
    assert.equal(await rt.env.ROOM.getByName(runaway).increment(), 2);
    assert.equal(await rt.env.ROOM.getByName(other).count(), 21);
  });

  it("relays a WebSocket to an object on another thread, and drops it when that thread is reset", async () => {
    using store = testStore();
    await using rt = await start(store.options, { cpuLimitMs: 300 });
    const [room] = namesOnEachThread(rt);
    const response = await rt.fetch(`http://app/${room}/ws`, { headers: { upgrade: "websocket" } });
    assert.equal(response.status, 101);
    const ws = response.webSocket!;
    ws.accept();
    const messages: string[] = [];
    let closed: { code: number; wasClean: boolean } | undefined;
    ws.addEventListener("message", (event) => messages.push(String(event.data)));
    ws.addEventListener("close", (event) => {
      closed = { code: event.code, wasClean: event.wasClean };
    });
    ws.send("hello");
    await waitFor(() => messages.length === 1, "the echo");
    assert.equal(messages[0], `${room}:hello:1`);

    // The object's thread is stopped at its CPU limit: the socket it held drops.
    await assert.rejects(rt.env.ROOM.getByName(room).spin(), /exceeded its CPU time limit/);
    await waitFor(() => closed !== undefined, "the socket to drop");
    assert.deepEqual(closed, { code: 1006, wasClean: false });
  });

  it("refuses options that cannot reach object threads, naming them", async () => {
    await assert.rejects(
      createRuntime({ main: {}, threads: 2 }),
      /main: must be a path or URL with threads/,
    );
    await assert.rejects(
      createRuntime({ main: MAIN, threads: -1 }),
      /threads: must be a whole number of object threads/,
    );
  });
});

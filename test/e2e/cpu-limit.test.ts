import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { HEARTBEAT_MS } from "../../src/threads/shard-protocol.ts";
import { startStead } from "../support/stead-process.ts";
import { skipUnless, testStore } from "../support/storage.ts";

/** limits.cpu_ms is 500 in its wrangler.jsonc. */
const APP = fileURLToPath(new URL("../fixtures/cpu-app", import.meta.url));
const ARGS = ["--host", "127.0.0.1", "--threads", "2", "--shutdown-timeout", "1000"];

/** Two room names whose objects run on different object threads. */
async function roomsOnTwoThreads(url: string): Promise<[string, string]> {
  const byThread = new Map<string, string>();
  for (let i = 0; byThread.size < 2; i++) {
    const thread = await (await fetch(`${url}/room-${i}/thread`)).text();
    if (!byThread.has(thread)) byThread.set(thread, `room-${i}`);
  }
  return [...byThread.values()] as [string, string];
}

/** Increments `room` `times` times, one after another; resolves to the slowest answer's ms. */
async function slowestOf(url: string, room: string, times: number): Promise<number> {
  let slowest = 0;
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    const response = await fetch(`${url}/${room}/increment`, { method: "POST" });
    assert.equal(response.status, 200);
    await response.text();
    slowest = Math.max(slowest, performance.now() - started);
  }
  return slowest;
}

describe("CPU limits under stead start --threads", {
  skip: skipUnless("threads", "runs objects on object threads"),
}, () => {
  it("answers a runaway event with Cloudflare's error at limits.cpu_ms, resets its object, and keeps serving other threads", async () => {
    using store = testStore();
    await using stead = await startStead("start", [APP, ...ARGS], { store });
    const [runaway, other] = await roomsOnTwoThreads(stead.url);
    assert.equal(await (await fetch(`${stead.url}/${runaway}/increment`)).text(), "1");

    const started = performance.now();
    const spinning = fetch(`${stead.url}/${runaway}/spin`);
    const slowest = await slowestOf(stead.url, other, 10);
    const response = await spinning;
    const elapsed = performance.now() - started;
    assert.equal(response.status, 503);
    assert.match(await response.text(), /exceeded its CPU time limit/);
    // The limit counts from the thread's last heartbeat, at most HEARTBEAT_MS before the request.
    assert.ok(elapsed >= 500 - HEARTBEAT_MS, `answered after ${elapsed} ms, before the limit`);
    assert.ok(slowest < 250, `the other thread's object took ${slowest} ms`);
    // Reset, not lost: the object starts again with its stored count.
    assert.equal(await (await fetch(`${stead.url}/${runaway}/increment`)).text(), "2");
    assert.match(stead.stderr(), /CPU_LIMIT_EXCEEDED|exceeded its CPU time limit/);
    assert.deepEqual(await stead.stop("SIGTERM"), { code: 0, signal: null });
  });

  it("ends the process when a SQL statement never ends, after the other threads answered, and loses nothing", async () => {
    using store = testStore();
    {
      await using stead = await startStead("start", [APP, ...ARGS], { store });
      const [runaway, other] = await roomsOnTwoThreads(stead.url);
      assert.equal(await (await fetch(`${stead.url}/${other}/increment`)).text(), "1");
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        stead.child.once("exit", (code, signal) => resolve({ code, signal })),
      );
      const stuck = fetch(`${stead.url}/${runaway}/runaway-sql`);
      assert.ok((await slowestOf(stead.url, other, 5)) < 250);
      const response = await stuck;
      assert.equal(response.status, 503);
      assert.match(await response.text(), /exceeded its CPU time limit/);
      // The thread cannot be stopped inside SQLite: the process shuts down and ends itself.
      const { signal } = await exited;
      assert.equal(signal, "SIGKILL");
      assert.match(stead.stderr(), /object thread is stuck/);
    }
    await using again = await startStead("start", [APP, ...ARGS], { store });
    const [, other] = await roomsOnTwoThreads(again.url);
    assert.equal(await (await fetch(`${again.url}/${other}/increment`)).text(), "7");
  });

  it("finishes SIGTERM within --shutdown-timeout and its grace even while a thread is stuck", async () => {
    using store = testStore();
    await using stead = await startStead("start", [APP, ...ARGS], { store });
    const stuck = fetch(`${stead.url}/room-0/runaway-sql`).catch(() => undefined);
    // The statement is running once the other requests of its thread stop being answered.
    await fetch(`${stead.url}/room-0/thread`).catch(() => undefined);
    const started = performance.now();
    const { code, signal } = await stead.stop("SIGTERM");
    const took = performance.now() - started;
    assert.ok(code !== 0 || signal !== null, "a stuck thread cannot end cleanly");
    // Within --shutdown-timeout (1 s) and the 5 s grace: the watchdog stops the blocked thread
    // at limits.cpu_ms, it counts as stuck 2 s later, and the process ends itself.
    assert.ok(took < 6_000, `SIGTERM took ${took} ms`);
    await stuck;
  });
});

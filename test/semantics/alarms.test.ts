import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { createRuntime, ManualClock, type RuntimeOptions } from "../../src/index.ts";
import { runDurableObjectAlarm } from "../../src/testing/index.ts";
import { constructed } from "../fixtures/alarm-worker.ts";
import { adminOf } from "../support/admin.ts";
import { deadLetterAlarms } from "../support/dead-letters.ts";
import { storageOptions, testStore } from "../support/storage.ts";
import { waitFor } from "../support/wait-for.ts";

// The module itself, not its URL: a URL is bundled into a copy of its own, and these tests
// read state the fixture module keeps.
const main = await import("../fixtures/alarm-worker.ts");
const bindings = { ALARMED: "Alarmed", NO_ALARM: "NoAlarm" };

async function start(clock: ManualClock, extra: Partial<RuntimeOptions> = {}) {
  return createRuntime({
    main,
    durableObjects: bindings,
    clock,
    onError: () => {},
    ...storageOptions(),
    ...extra,
  });
}

describe("alarms", () => {
  it("refuses setAlarm without an alarm() handler, with Cloudflare's message", async () => {
    await using rt = await start(new ManualClock());
    const stub = rt.env.NO_ALARM.getByName("x");
    assert.equal(
      await stub.trySet(Date.now() + 1000),
      "TypeError: Your Durable Object class must have an alarm() handler in order to call setAlarm()",
    );
    assert.equal(await stub.getAlarm(), null);
  });

  it("validates the scheduled time", async () => {
    await using rt = await start(new ManualClock());
    const stub = rt.env.ALARMED.getByName("x");
    await assert.rejects(stub.schedule(0), {
      name: "TypeError",
      message: "setAlarm() cannot be called with an alarm time <= 0",
    });
    await assert.rejects(stub.schedule(-5), {
      message: "setAlarm() cannot be called with an alarm time <= 0",
    });
    await assert.rejects(stub.schedule(Number.NaN), {
      name: "TypeError",
      message: /setAlarm\(\) requires a Date/,
    });
    await assert.rejects(stub.schedule("soon" as never), { name: "TypeError" });
    assert.equal(await stub.getAlarm(), null);
  });

  it("fires at the scheduled time with its invocation info, then is no longer set", async () => {
    const clock = new ManualClock();
    await using rt = await start(clock);
    const stub = rt.env.ALARMED.getByName("timer");
    const at = clock.now() + 60_000;
    await stub.scheduleDate(at);
    assert.equal(await stub.getAlarm(), at);
    await clock.advance(59_999);
    assert.deepEqual(await stub.runs(), []);
    await clock.advance(1);
    await waitFor(async () => (await stub.runs()).length === 1, "the alarm to run");
    const [run] = await stub.runs();
    assert.deepEqual(run, {
      retryCount: 0,
      isRetry: false,
      scheduledTime: at,
      name: "timer",
      alarmDuringRun: null,
    });
    await waitFor(async () => (await stub.getAlarm()) === null, "the alarm to be cleared");
  });

  it("replaces the alarm on setAlarm and cancels it on deleteAlarm", async () => {
    const clock = new ManualClock();
    await using rt = await start(clock);
    const stub = rt.env.ALARMED.getByName("replace");
    await stub.schedule(clock.now() + 1000);
    await stub.schedule(clock.now() + 5000);
    assert.equal(await stub.getAlarm(), clock.now() + 5000);
    await clock.advance(2000);
    assert.deepEqual(await stub.runs(), []);
    await stub.cancel();
    assert.equal(await stub.getAlarm(), null);
    await clock.advance(10_000);
    assert.deepEqual(await stub.runs(), []);
  });

  it("fires an alarm set in the past at once", async () => {
    const clock = new ManualClock();
    await using rt = await start(clock);
    const stub = rt.env.ALARMED.getByName("past");
    await stub.schedule(clock.now() - 10_000);
    await clock.advance(0);
    await waitFor(async () => (await stub.runs()).length === 1, "the past alarm to run");
  });

  it("an alarm set inside alarm() is reported by getAlarm and fires later", async () => {
    const clock = new ManualClock();
    await using rt = await start(clock);
    const stub = rt.env.ALARMED.getByName("chain");
    const first = clock.now() + 1000;
    await stub.rescheduleBy(3000);
    await stub.schedule(first);
    await clock.advance(1000);
    await waitFor(async () => (await stub.getAlarm()) === first + 3000, "the rescheduled alarm");
    await clock.advance(3000);
    await waitFor(async () => (await stub.runs()).length === 2, "the second run");
    assert.deepEqual(
      (await stub.runs()).map((r: { scheduledTime: number }) => r.scheduledTime),
      [first, first + 3000],
    );
  });

  it("retries a failing alarm with exponential backoff from 2 s", async () => {
    const clock = new ManualClock();
    await using rt = await start(clock);
    const stub = rt.env.ALARMED.getByName("flaky");
    const at = clock.now() + 100;
    await stub.failTimes(2);
    await stub.schedule(at);
    await clock.advance(100);
    await waitFor(async () => (await stub.runs()).length === 1, "the first attempt");
    // While a retry is pending the alarm still counts as set.
    await waitFor(async () => (await stub.getAlarm()) === at, "the alarm to stay set");
    await clock.advance(1999);
    assert.equal((await stub.runs()).length, 1);
    await clock.advance(1);
    await waitFor(async () => (await stub.runs()).length === 2, "the first retry after 2 s");
    await clock.advance(3999);
    assert.equal((await stub.runs()).length, 2);
    await clock.advance(1);
    await waitFor(async () => (await stub.runs()).length === 3, "the second retry after 4 s more");
    const runs = await stub.runs();
    assert.deepEqual(
      runs.map((r: { retryCount: number; isRetry: boolean; scheduledTime: number }) => [
        r.retryCount,
        r.isRetry,
        r.scheduledTime,
      ]),
      [
        [0, false, at],
        [1, true, at],
        [2, true, at],
      ],
    );
    await waitFor(async () => (await stub.getAlarm()) === null, "the alarm to be done");
    assert.deepEqual(rt.alarmDeadLetters(), []);
  });

  it("dead-letters an alarm after 6 failed retries", async () => {
    const clock = new ManualClock();
    await using rt = await start(clock);
    const stub = rt.env.ALARMED.getByName("doomed");
    await stub.failTimes(-1);
    await stub.schedule(clock.now() + 10);
    await clock.advance(10);
    for (let attempt = 1; attempt <= 7; attempt++) {
      await waitFor(async () => (await stub.runs()).length === attempt, `attempt ${attempt}`);
      if (attempt < 7) await clock.advance(2000 * 2 ** (attempt - 1));
    }
    await waitFor(() => rt.alarmDeadLetters().length === 1, "the dead letter");
    const [letter] = rt.alarmDeadLetters();
    assert.equal(letter!.id, stub.id.toString());
    assert.equal(letter!.namespace, "Alarmed");
    assert.equal(letter!.name, "doomed");
    assert.equal(letter!.retryCount, 6);
    assert.match(letter!.error, /alarm failure 7/);
    assert.equal(await stub.getAlarm(), null);
    await clock.advance(1_000_000);
    assert.equal((await stub.runs()).length, 7);

    // An operator fixes the cause and retries it through the admin API: it runs again, once.
    await using admin = await adminOf(rt);
    assert.equal((await admin.client.deadLetters()).length, 1);
    await stub.failTimes(0);
    assert.equal(await admin.client.retryDeadLetters("Alarmed", "doomed"), 1);
    assert.deepEqual(await admin.client.deadLetters(), []);
    await clock.advance(0);
    await waitFor(async () => (await stub.runs()).length === 8, "the retried alarm to run");
    await assert.rejects(admin.client.discardDeadLetters("Alarmed", "doomed"), {
      code: "ADMIN_NOT_FOUND",
    });
  });

  it("discards a dead-lettered alarm on an operator's word, keeping others", async () => {
    const clock = new ManualClock();
    await using rt = await start(clock);
    await deadLetterAlarms(rt, clock, ["first", "second"]);
    await using admin = await adminOf(rt);
    assert.equal(await admin.client.discardDeadLetters("Alarmed", "first"), 1);
    assert.deepEqual(
      (await admin.client.deadLetters()).map((letter) => letter.name),
      ["second"],
    );
  });

  it("wakes an evicted object: the constructor runs again and ctx.id.name is known", async () => {
    const clock = new ManualClock();
    await using rt = await start(clock, { objects: { idleTimeoutMs: 1000 } });
    const stub = rt.env.ALARMED.getByName("sleeper");
    const id = stub.id.toString();
    await stub.schedule(clock.now() + 60_000);
    const before = constructed.get(id);
    await clock.advance(5000);
    await clock.advance(55_000);
    await waitFor(() => constructed.get(id) === before! + 1, "the constructor to run on wake");
    const fresh = rt.env.ALARMED.get(rt.env.ALARMED.idFromString(id));
    await waitFor(async () => (await fresh.runs()).length === 1, "the alarm to run");
    assert.equal((await fresh.runs())[0].name, "sleeper");
  });

  it("survives a runtime restart on the same store", async () => {
    using store = testStore("stead-alarms-");
    const clock = new ManualClock();
    const at = clock.now() + 30_000;
    {
      await using rt = await start(clock, store.options);
      await rt.env.ALARMED.getByName("persistent").schedule(at);
    }
    await clock.advance(40_000);
    await using rt = await start(clock, store.options);
    await clock.advance(0);
    const stub = rt.env.ALARMED.getByName("persistent");
    await waitFor(async () => (await stub.runs()).length === 1, "the alarm to run after restart");
    assert.equal((await stub.runs())[0].scheduledTime, at);
  });

  it("survives a SIGKILL of the process that set it", async () => {
    using store = testStore("stead-alarms-");
    const child = spawn(
      process.execPath,
      [new URL("../fixtures/alarm-child.ts", import.meta.url).pathname, store.dataDir],
      { env: { ...process.env, ...store.env }, stdio: ["ignore", "pipe", "inherit"] },
    );
    const acked = await new Promise<number>((resolve, reject) => {
      child.stdout.setEncoding("utf8");
      child.stdout.on("data", (chunk: string) => {
        const match = /scheduled (\d+)/.exec(chunk);
        if (match) resolve(Number(match[1]));
      });
      child.on("exit", (code) => reject(new Error(`child exited early with ${code}`)));
    });
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    const clock = new ManualClock(acked + 1);
    await using rt = await start(clock, store.options);
    await clock.advance(0);
    const stub = rt.env.ALARMED.getByName("crashy");
    await waitFor(async () => (await stub.runs()).length === 1, "the alarm to run after the crash");
    assert.equal((await stub.runs())[0].scheduledTime, acked);
  });

  it("runDurableObjectAlarm runs a scheduled alarm now and reports whether one ran", async () => {
    const clock = new ManualClock();
    await using rt = await start(clock);
    const stub = rt.env.ALARMED.getByName("manual");
    assert.equal(await runDurableObjectAlarm(stub), false);
    await stub.schedule(clock.now() + 3_600_000);
    assert.equal(await runDurableObjectAlarm(stub), true);
    assert.equal((await stub.runs()).length, 1);
    assert.equal(await stub.getAlarm(), null);
    assert.equal(await runDurableObjectAlarm(stub), false);
    await clock.advance(3_600_000);
    assert.equal((await stub.runs()).length, 1);
  });

  it("keeps an alarm the handler set again for the same time, as in a forced early run", async () => {
    const clock = new ManualClock();
    await using rt = await start(clock);
    const stub = rt.env.ALARMED.getByName("rearmed");
    const due = clock.now() + 60_000;
    await stub.schedule(due);
    await stub.rescheduleBy(0);
    assert.equal(await runDurableObjectAlarm(stub), true);
    assert.equal(await stub.getAlarm(), due, "setAlarm(sameTime) inside alarm() re-arms it");
    await clock.advance(60_000);
    await waitFor(async () => (await stub.runs()).length === 2, "the re-armed alarm");
    assert.equal(await stub.getAlarm(), null);
  });
});

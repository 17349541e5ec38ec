import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { TEMPLATES } from "../support/apps.ts";
import { startStead } from "../support/stead-process.ts";
import { testStore } from "../support/storage.ts";
import { eventually } from "../support/wait-for.ts";
import { connect } from "../support/ws-client.ts";

const DEVICE_TWIN = join(TEMPLATES, "device-twin");
const HOST = ["--host", "127.0.0.1"];

async function call(base: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? null : (JSON.parse(text) as any) };
}

const isCommand = (message: any) => message.type === "command";

describe("templates/device-twin under stead start", () => {
  it("delivers commands queued offline in order, redelivers unacknowledged ones, and keeps them across a SIGKILL", async () => {
    using store = testStore();
    const args = [DEVICE_TWIN, ...HOST];
    const ids: Record<string, string> = {};
    {
      await using stead = await startStead("start", args, { store });
      const ws = `${stead.url.replace(/^http/, "ws")}/devices/thermostat-9/connect`;
      await call(stead.url, "PUT", "/devices/thermostat-9/desired", { target: 21, mode: "heat" });
      await call(stead.url, "POST", "/devices/thermostat-9/reported", { target: 18, mode: "heat" });
      for (const name of ["calibrate", "sync-clock", "update"]) {
        const queued = await call(stead.url, "POST", "/devices/thermostat-9/commands", { name });
        assert.equal(queued.status, 202);
        assert.equal(queued.body.delivered, false);
        ids[name] = queued.body.id;
      }

      {
        await using device = await connect(ws);
        assert.deepEqual(await device.next(), {
          type: "desired",
          state: { target: 21, mode: "heat" },
          version: 1,
          delta: { target: 21 },
        });
        const names = [];
        for (let i = 0; i < 3; i++) names.push((await device.next(isCommand)).name);
        assert.deepEqual(names, ["calibrate", "sync-clock", "update"]);

        device.send({ type: "ack", id: ids.calibrate });
        device.send({ type: "report", state: { target: 21 } });
        assert.deepEqual(await device.next((m) => m.type === "reported"), {
          type: "reported",
          version: 2,
          delta: {},
        });
        const live = await call(stead.url, "POST", "/devices/thermostat-9/commands", {
          name: "beep",
          payload: { times: 2 },
        });
        assert.equal(live.body.delivered, true);
        ids.beep = live.body.id;
        assert.deepEqual(await device.next(isCommand), {
          type: "command",
          id: ids.beep,
          name: "beep",
          payload: { times: 2 },
          expiresAt: live.body.expiresAt,
        });
        device.send("ping");
        assert.equal(await device.next((m) => m === "pong"), "pong");
        // The device loses power: no close handshake.
      }
      await eventually("the twin to notice the device is gone", async () =>
        (await call(stead.url, "GET", "/devices/thermostat-9")).body.connected ? undefined : true,
      );

      await using again = await connect(ws);
      assert.equal((await again.next()).type, "desired");
      const redelivered = [];
      for (let i = 0; i < 3; i++) redelivered.push((await again.next(isCommand)).name);
      assert.deepEqual(redelivered, ["sync-clock", "update", "beep"]);
      again.send({ type: "ack", id: ids["sync-clock"] });
      await eventually("the ack to be recorded", async () => {
        const waiting = (await call(stead.url, "GET", "/devices/thermostat-9/commands")).body;
        return waiting.length === 2 ? true : undefined;
      });
      assert.deepEqual(await stead.stop("SIGKILL"), { code: null, signal: "SIGKILL" });
    }

    await using stead = await startStead("start", args, { store });
    const twin = (await call(stead.url, "GET", "/devices/thermostat-9")).body;
    assert.deepEqual(twin.delta, {});
    assert.equal(twin.connected, false);
    assert.equal(twin.pendingCommands, 2);
    await using device = await connect(
      `${stead.url.replace(/^http/, "ws")}/devices/thermostat-9/connect`,
    );
    assert.deepEqual(
      [(await device.next(isCommand)).id, (await device.next(isCommand)).id],
      [ids.update, ids.beep],
    );
    const commands = (await call(stead.url, "GET", "/devices/thermostat-9/commands")).body;
    assert.deepEqual(
      commands.map((c: any) => [c.name, c.deliveries]),
      [
        ["update", 3],
        ["beep", 3],
      ],
    );
  });

  it("expires an undelivered command once its ttlSeconds pass, and lets one connection per device", async () => {
    using store = testStore();
    await using stead = await startStead("start", [DEVICE_TWIN, ...HOST], { store });
    const ws = `${stead.url.replace(/^http/, "ws")}/devices/gate-3/connect`;
    const short = await call(stead.url, "POST", "/devices/gate-3/commands", {
      name: "open",
      ttlSeconds: 1,
    });
    const long = await call(stead.url, "POST", "/devices/gate-3/commands", { name: "close" });
    assert.equal(short.status, 202);

    const left = await eventually(
      "the alarm to drop the expired command",
      async () => {
        const waiting = (await call(stead.url, "GET", "/devices/gate-3/commands")).body;
        return waiting.length === 1 ? waiting : undefined;
      },
      { timeoutMs: 5_000 },
    );
    assert.ok(Date.now() >= short.body.expiresAt);
    assert.equal(left[0].id, long.body.id);

    await using first = await connect(ws);
    assert.equal((await first.next(isCommand)).name, "close");
    await using second = await connect(ws);
    assert.deepEqual(await first.closed, { code: 4000, reason: "replaced by a newer connection" });
    assert.equal((await second.next(isCommand)).name, "close");
    second.send({ type: "report", state: "open" });
    assert.deepEqual(await second.next((m) => m.type === "error"), {
      type: "error",
      error: 'state must be a JSON object, like {"led": "on"}',
    });
    const bad = await call(stead.url, "POST", "/devices/gate-3/commands", { name: "" });
    assert.equal(bad.status, 400);
  });
});

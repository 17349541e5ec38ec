import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createRuntime } from "stead";
import { runDurableObjectAlarm, runInDurableObject } from "stead/testing";

// The app as `stead start` runs it: its wrangler config, its code, a data directory.
const app = new URL("..", import.meta.url);

type Runtime = Awaited<ReturnType<typeof createRuntime>>;

/** A device connected over an in-process WebSocket, recording what its twin sends it. */
interface Device {
  ws: any;
  received: any[];
  /** The first message matching `match` not returned before, waiting up to 5 s for it. */
  next(match?: (message: any) => boolean): Promise<any>;
  closed: Promise<{ code: number; reason: string }>;
}

async function connect(rt: Runtime, id: string): Promise<Device> {
  const response: any = await rt.fetch(`http://app/devices/${id}/connect`, {
    headers: { Upgrade: "websocket" },
  });
  assert.equal(response.status, 101);
  const ws = response.webSocket;
  ws.accept();
  const received: any[] = [];
  const taken = new Set<number>();
  let wake = () => {};
  ws.addEventListener("message", (event: { data: string }) => {
    received.push(JSON.parse(event.data));
    wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.addEventListener("close", ({ code, reason }: { code: number; reason: string }) =>
      resolve({ code, reason }),
    ),
  );
  return {
    ws,
    received,
    closed,
    async next(match = () => true) {
      const deadline = Date.now() + 5_000;
      for (;;) {
        const index = received.findIndex((m, i) => !taken.has(i) && match(m));
        if (index >= 0) {
          taken.add(index);
          return received[index];
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error(`no matching message; got ${JSON.stringify(received)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
  };
}

async function call(rt: Runtime, method: string, path: string, body?: unknown) {
  const response = await rt.fetch(`http://app${path}`, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? null : JSON.parse(text) };
}

const command = (rt: Runtime, id: string, body: unknown) =>
  call(rt, "POST", `/devices/${id}/commands`, body);

test("computes the delta between desired and reported state", async () => {
  await using rt = await createRuntime({ config: app });
  const desired = await call(rt, "PUT", "/devices/lamp-1/desired", {
    power: "on",
    colour: { hue: 120, brightness: 80 },
    schedule: ["07:00", "19:00"],
    demo: null,
  });
  assert.equal(desired.status, 200);
  assert.deepEqual(desired.body.desired.version, 1);
  // Nothing reported yet: the whole desired state is to do (a null asks for absence: nothing to do).
  assert.deepEqual(desired.body.delta, {
    power: "on",
    colour: { hue: 120, brightness: 80 },
    schedule: ["07:00", "19:00"],
  });

  const reported = await call(rt, "POST", "/devices/lamp-1/reported", {
    power: "off",
    colour: { hue: 120, brightness: 40 },
    schedule: ["07:00"],
    demo: true,
    uptime: 3600,
  });
  assert.equal(reported.body.reported.version, 1);
  // Only what differs, member by member inside objects; arrays as a whole; the device's own
  // members (uptime) are not part of it.
  assert.deepEqual(reported.body.delta, {
    power: "on",
    colour: { brightness: 80 },
    schedule: ["07:00", "19:00"],
    demo: null,
  });

  // Reports are merge patches: applying the delta brings the device in sync.
  const synced = await call(rt, "POST", "/devices/lamp-1/reported", reported.body.delta);
  assert.deepEqual(synced.body.delta, {});
  assert.deepEqual(synced.body.reported.state, {
    power: "on",
    colour: { hue: 120, brightness: 80 },
    schedule: ["07:00", "19:00"],
    uptime: 3600,
  });
  assert.equal(synced.body.reported.version, 2);

  // PATCH changes part of the desired state; PUT replaces it.
  const patched = await call(rt, "PATCH", "/devices/lamp-1/desired", { colour: { hue: 240 } });
  assert.deepEqual(patched.body.desired.state.colour, { hue: 240, brightness: 80 });
  assert.deepEqual(patched.body.delta, { colour: { hue: 240 } });
  const replaced = await call(rt, "PUT", "/devices/lamp-1/desired", { power: "off" });
  assert.deepEqual(replaced.body.delta, { power: "off" });
  assert.deepEqual((await call(rt, "GET", "/devices/lamp-1")).body, {
    ...replaced.body,
    connected: false,
  });
  assert.equal(replaced.body.desired.version, 3);
});

test("delivers commands queued while offline in order, and forgets acknowledged ones", async () => {
  await using rt = await createRuntime({ config: app });
  const queued = [];
  for (const name of ["reboot", "update-firmware", "blink"]) {
    const answer = await command(rt, "pump-7", { name, payload: { step: name } });
    assert.equal(answer.status, 202);
    assert.equal(answer.body.delivered, false);
    queued.push(answer.body);
  }
  assert.deepEqual(
    (await call(rt, "GET", "/devices/pump-7/commands")).body.map((c: any) => c.name),
    ["reboot", "update-firmware", "blink"],
  );

  const device = await connect(rt, "pump-7");
  assert.deepEqual(await device.next(), { type: "desired", state: {}, version: 0, delta: {} });
  for (const sent of queued) {
    assert.deepEqual(await device.next(), {
      type: "command",
      id: sent.id,
      name: sent.name,
      payload: { step: sent.name },
      expiresAt: sent.expiresAt,
    });
  }
  const twin = (await call(rt, "GET", "/devices/pump-7")).body;
  assert.equal(twin.connected, true);
  assert.equal(twin.pendingCommands, 3);

  // The device carries out the first and acknowledges it.
  device.ws.send(JSON.stringify({ type: "ack", id: queued[0].id }));
  device.ws.send(JSON.stringify({ type: "ack", id: "not-a-command" }));
  device.ws.send(JSON.stringify({ type: "report", state: { firmware: "1.0" } }));
  assert.deepEqual(await device.next(), { type: "reported", version: 1, delta: {} });
  const waiting = (await call(rt, "GET", "/devices/pump-7/commands")).body;
  assert.deepEqual(
    waiting.map((c: any) => [c.name, c.deliveries]),
    [
      ["update-firmware", 1],
      ["blink", 1],
    ],
  );

  // While connected, a command goes out at once, and a desired change is pushed.
  const live = await command(rt, "pump-7", { name: "stop" });
  assert.equal(live.body.delivered, true);
  assert.equal((await device.next()).id, live.body.id);
  await call(rt, "PUT", "/devices/pump-7/desired", { firmware: "2.0" });
  assert.deepEqual(await device.next(), {
    type: "desired",
    state: { firmware: "2.0" },
    version: 1,
    delta: { firmware: "2.0" },
  });
  // desired, three commands, the report's answer, the live command, the new desired state.
  assert.equal(device.received.length, 7);
});

test("redelivers unacknowledged commands on reconnect, in order", async () => {
  await using rt = await createRuntime({ config: app });
  const ids = [];
  for (const name of ["a", "b", "c"]) ids.push((await command(rt, "fan-2", { name })).body.id);

  const first = await connect(rt, "fan-2");
  await first.next((m) => m.type === "command" && m.name === "c");
  first.ws.send(JSON.stringify({ type: "ack", id: ids[1] }));
  first.ws.close(1000, "going offline");
  assert.equal((await first.closed).code, 1000);
  await waitFor(async () => !(await call(rt, "GET", "/devices/fan-2")).body.connected);
  const queuedOffline = (await command(rt, "fan-2", { name: "d" })).body;
  assert.equal(queuedOffline.delivered, false);

  const second = await connect(rt, "fan-2");
  await second.next((m) => m.type === "desired");
  const names = [];
  for (let i = 0; i < 3; i++) names.push((await second.next()).name);
  assert.deepEqual(names, ["a", "c", "d"]);
  const commands = (await call(rt, "GET", "/devices/fan-2/commands")).body;
  assert.deepEqual(
    commands.map((c: any) => [c.name, c.deliveries]),
    [
      ["a", 2],
      ["c", 2],
      ["d", 1],
    ],
  );

  // Connecting again while connected replaces the older connection.
  const third = await connect(rt, "fan-2");
  assert.deepEqual(await second.closed, { code: 4000, reason: "replaced by a newer connection" });
  assert.equal((await third.next((m) => m.type === "command")).name, "a");
});

test("expires commands by alarm once their time-to-live has passed", async () => {
  await using rt = await createRuntime({ config: app });
  const before = Date.now();
  const short = (await command(rt, "gate", { name: "open", ttlSeconds: 60 })).body;
  const long = (await command(rt, "gate", { name: "close" })).body;
  assert.ok(short.expiresAt >= before + 60_000 && short.expiresAt <= Date.now() + 60_000);
  // COMMAND_TTL_SECONDS is 3600 in wrangler.jsonc.
  assert.ok(long.expiresAt >= before + 3_600_000 && long.expiresAt <= Date.now() + 3_600_000);

  const gate = rt.env.DEVICES.getByName("gate");
  const alarm = () => runInDurableObject(gate, (_instance, ctx) => ctx.storage.getAlarm());
  assert.equal(await alarm(), short.expiresAt);

  // A minute later (the stored expiry moved into the past), it drops the short-lived command.
  await runInDurableObject(gate, (_instance, ctx) => {
    ctx.storage.sql.exec(
      "UPDATE commands SET expires_at = ? WHERE id = ?",
      Date.now() - 1,
      short.id,
    );
  });
  assert.equal(await runDurableObjectAlarm(gate), true);
  assert.deepEqual(
    (await gate.commands()).map((c: { name: string }) => c.name),
    ["close"],
  );
  assert.equal(await alarm(), long.expiresAt);
  const device = await connect(rt, "gate");
  await device.next((m) => m.type === "desired");
  assert.equal((await device.next()).name, "close");
  device.ws.send(JSON.stringify({ type: "ack", id: long.id }));
  await waitFor(async () => (await gate.commands()).length === 0);
  // With the queue empty, the alarm clears itself.
  assert.equal(await runDurableObjectAlarm(gate), true);
  assert.equal(await alarm(), null);
});

test("answers 400 for bad input, and 429 when a device's queue is full", async () => {
  await using rt = await createRuntime({
    config: app,
    vars: { COMMAND_TTL_SECONDS: "3600", MAX_PENDING_COMMANDS: "2" },
  });
  const bad = async (method: string, path: string, body: unknown, error: string) =>
    assert.deepEqual(await call(rt, method, path, body), { status: 400, body: { error } }, path);
  const OBJECT = 'must be a JSON object, like {"led": "on"}';
  await bad("PUT", "/devices/d/desired", "nope", `The desired state ${OBJECT}`);
  await bad("PUT", "/devices/d/desired", [1, 2], `The desired state ${OBJECT}`);
  await bad("POST", "/devices/d/reported", "null", `The reported state ${OBJECT}`);
  await bad(
    "POST",
    "/devices/d/reported",
    { blob: "x".repeat(40_000) },
    "The reported state is 40011 bytes of JSON; at most 32768 are allowed",
  );
  const deep = JSON.parse(`${'{"a":'.repeat(20)}1${"}".repeat(20)}`);
  await bad("POST", "/devices/d/reported", deep, "The reported state nests deeper than 16 levels");
  await bad(
    "POST",
    "/devices/d/commands",
    "{}",
    "name must be 1 to 64 letters, digits, '.', ':', '-' or '_'",
  );
  await bad(
    "POST",
    "/devices/d/commands",
    { name: "reboot", ttlSeconds: 0 },
    "ttlSeconds must be a whole number of seconds from 1 to 604800 (got 0)",
  );
  await bad(
    "GET",
    "/devices/bad%20id",
    undefined,
    "The device id must be 1 to 128 letters, digits, '.', ':', '-' or '_'",
  );
  assert.equal((await call(rt, "GET", "/devices/d/connect")).status, 426);
  assert.equal((await call(rt, "DELETE", "/devices/d/desired")).status, 405);
  assert.equal((await call(rt, "GET", "/nowhere")).status, 404);
  assert.deepEqual((await call(rt, "DELETE", "/devices/d/commands/nope")).status, 404);

  // Nothing bad was stored.
  const twin = (await call(rt, "GET", "/devices/d")).body;
  assert.deepEqual([twin.desired.version, twin.reported.version, twin.pendingCommands], [0, 0, 0]);

  assert.equal((await command(rt, "d", { name: "one" })).status, 202);
  const two = await command(rt, "d", { name: "two" });
  const full = await command(rt, "d", { name: "three" });
  assert.equal(full.status, 429);
  assert.match(full.body.error, /has 2 commands waiting, the most MAX_PENDING_COMMANDS allows/);
  // Cancelling one makes room.
  assert.equal((await call(rt, "DELETE", `/devices/d/commands/${two.body.id}`)).status, 204);
  assert.equal((await command(rt, "d", { name: "three" })).status, 202);

  // A device sending something else than the protocol is told so, and stays connected.
  const device = await connect(rt, "d");
  device.ws.send("hello");
  device.ws.send(JSON.stringify({ type: "report", state: "on" }));
  assert.match((await device.next((m) => m.type === "error")).error, /^Send JSON like/);
  assert.equal((await device.next((m) => m.type === "error")).error, `state ${OBJECT}`);
});

test("keeps the twin and the queued commands through a restart", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "device-twin-test-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  let twin: unknown;
  {
    await using rt = await createRuntime({ config: app, dataDir });
    await call(rt, "PUT", "/devices/boiler/desired", { target: 21 });
    await call(rt, "POST", "/devices/boiler/reported", { target: 18 });
    for (const name of ["first", "second"]) await command(rt, "boiler", { name });
    twin = (await call(rt, "GET", "/devices/boiler")).body;
  }
  await using rt = await createRuntime({ config: app, dataDir });
  assert.deepEqual((await call(rt, "GET", "/devices/boiler")).body, twin);
  const device = await connect(rt, "boiler");
  assert.deepEqual((await device.next()).delta, { target: 21 });
  assert.deepEqual([(await device.next()).name, (await device.next()).name], ["first", "second"]);
});

/** Polls `condition` until it holds, failing after 5 s. */
async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

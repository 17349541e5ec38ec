import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createRuntime, type DurableObjectStub, type Runtime } from "stead";
import { runDurableObjectAlarm, runInDurableObject } from "stead/testing";

// The app as `stead start` runs it: its wrangler config, its code, a data directory.
const app = new URL("..", import.meta.url);

const HOLD_MS = 60_000; // HOLD_SECONDS in wrangler.jsonc

async function post(rt: Runtime, path: string, body: unknown) {
  const response = await rt.fetch(`http://app${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

async function seats(rt: Runtime, event: string) {
  const response = await rt.fetch(`http://app/events/${event}/seats`);
  assert.equal(response.status, 200);
  return response.json();
}

/**
 * Moves the event's holds `ms` into the past, as if that much time had gone by: the app reads
 * the real clock, so the test changes what is stored rather than waiting a minute.
 */
async function letTimePass(event: DurableObjectStub, ms: number): Promise<void> {
  await runInDurableObject(event, (_instance, ctx) => {
    ctx.storage.sql.exec("UPDATE seats SET expires_at = expires_at - ? WHERE state = 'held'", ms);
  });
}

function scheduledAlarm(event: DurableObjectStub): Promise<number | null> {
  return runInDurableObject(event, (_instance, ctx) => ctx.storage.getAlarm());
}

test("holds a seat, then confirms it for its holder only", async () => {
  await using rt = await createRuntime({ config: app });
  const before = Date.now();
  const held = await post(rt, "/events/gala/hold", { seat: "A1", holder: "ann" });
  assert.equal(held.status, 200);
  assert.equal(held.body.seat.state, "held");
  assert.equal(held.body.seat.holder, "ann");
  assert.ok(held.body.seat.expiresAt >= before + HOLD_MS);
  assert.ok(held.body.seat.expiresAt <= Date.now() + HOLD_MS);

  assert.deepEqual(await post(rt, "/events/gala/hold", { seat: "A1", holder: "bob" }), {
    status: 409,
    body: { ok: false, error: "seat A1 is held" },
  });
  assert.deepEqual(await post(rt, "/events/gala/confirm", { seat: "A1", holder: "bob" }), {
    status: 409,
    body: { ok: false, error: "seat A1 is not held by bob" },
  });
  const confirmed = { seat: "A1", state: "confirmed", holder: "ann", expiresAt: null };
  assert.deepEqual(await post(rt, "/events/gala/confirm", { seat: "A1", holder: "ann" }), {
    status: 200,
    body: { ok: true, seat: confirmed },
  });
  assert.deepEqual(await post(rt, "/events/gala/hold", { seat: "A1", holder: "bob" }), {
    status: 409,
    body: { ok: false, error: "seat A1 is confirmed" },
  });
  assert.deepEqual(await post(rt, "/events/gala/release", { seat: "A1", holder: "ann" }), {
    status: 409,
    body: { ok: false, error: "seat A1 is not held by ann" },
  });

  // A holder can give a seat back; it is free for the next person at once.
  assert.equal((await post(rt, "/events/gala/hold", { seat: "A2", holder: "bob" })).status, 200);
  assert.deepEqual(await post(rt, "/events/gala/release", { seat: "A2", holder: "bob" }), {
    status: 200,
    body: { ok: true, seat: { seat: "A2", state: "free", holder: null, expiresAt: null } },
  });
  assert.deepEqual(await seats(rt, "gala"), [confirmed]);
  // Each event is its own object with its own seats.
  assert.deepEqual(await seats(rt, "matinee"), []);
  assert.equal((await post(rt, "/events/matinee/hold", { seat: "A1", holder: "bob" })).status, 200);
});

test("answers bad requests with what is wrong", async () => {
  await using rt = await createRuntime({ config: app });
  const refused = async (path: string, body: unknown, status: number, error: RegExp) => {
    const answer = await post(rt, path, body);
    assert.equal(answer.status, status, JSON.stringify(answer));
    assert.equal(answer.body.ok, false);
    assert.match(answer.body.error, error);
  };
  await refused("/events/gala/hold", "not json", 400, /send a JSON body like/);
  await refused("/events/gala/hold", { holder: "ann" }, 400, /"seat" must be/);
  await refused("/events/gala/hold", { seat: "A 1", holder: "ann" }, 400, /"seat" must be/);
  await refused("/events/gala/hold", { seat: "A1" }, 400, /"holder" must be/);
  await refused("/events/gala/hold", { seat: "A1", holder: " " }, 400, /"holder" must be/);
  await refused("/events/gala/hold", { seat: "A1", holder: "x".repeat(65) }, 400, /at most 64/);
  await refused("/events/g%20a/hold", { seat: "A1", holder: "ann" }, 400, /event names are/);
  await refused("/events/gala/cancel", { seat: "A1", holder: "ann" }, 404, /Not found/);

  const get = await rt.fetch("http://app/events/gala/hold");
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("Allow"), "POST");
  // Nothing was held along the way.
  assert.deepEqual(await seats(rt, "gala"), []);
});

test("gives a seat to exactly one of many concurrent holds", async () => {
  await using rt = await createRuntime({ config: app });
  const holders = Array.from({ length: 20 }, (_, i) => `holder-${i}`);
  const answers = await Promise.all(
    holders.map((holder) => post(rt, "/events/gala/hold", { seat: "A1", holder })),
  );
  const won = answers.filter((answer) => answer.status === 200);
  assert.equal(won.length, 1, JSON.stringify(answers));
  for (const lost of answers.filter((answer) => answer.status !== 200)) {
    assert.deepEqual(lost, { status: 409, body: { ok: false, error: "seat A1 is held" } });
  }
  const [seat] = await seats(rt, "gala");
  assert.equal(seat.holder, won[0]!.body.seat.holder);
});

test("the alarm releases an unconfirmed hold when it expires; a confirmed seat stays", async () => {
  await using rt = await createRuntime({ config: app });
  const gala = rt.env.EVENTS.getByName("gala");
  const ann = await gala.hold("A1", "ann");
  assert.equal((await gala.hold("A2", "bob")).ok, true);
  assert.equal((await gala.confirm("A2", "bob")).ok, true);
  // One alarm, due when the earliest hold expires; a confirmed seat needs none.
  assert.equal(await scheduledAlarm(gala), ann.seat.expiresAt);

  await letTimePass(gala, HOLD_MS);
  assert.equal(await runDurableObjectAlarm(gala), true);
  assert.deepEqual(await gala.seats(), [
    { seat: "A2", state: "confirmed", holder: "bob", expiresAt: null },
  ]);
  assert.equal(await scheduledAlarm(gala), null, "nothing left to release");
  assert.equal((await gala.hold("A1", "carol")).ok, true, "the seat is free again");
});

test("a hold past its expiry counts as released even before its alarm has run", async () => {
  await using rt = await createRuntime({ config: app });
  const gala = rt.env.EVENTS.getByName("gala");
  await gala.hold("A1", "ann");
  await letTimePass(gala, HOLD_MS);
  assert.deepEqual(await gala.seats(), []);
  assert.deepEqual(await gala.confirm("A1", "ann"), {
    ok: false,
    error: "seat A1 is not held by ann",
  });
  const bob = await gala.hold("A1", "bob");
  assert.equal(bob.ok, true);
  assert.equal(await scheduledAlarm(gala), bob.seat.expiresAt);
});

test("keeps holds, bookings and the pending alarm through a restart", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "reservations-test-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  let expiresAt: number;
  {
    await using rt = await createRuntime({ config: app, dataDir });
    const gala = rt.env.EVENTS.getByName("gala");
    expiresAt = (await gala.hold("A1", "ann")).seat.expiresAt;
    await gala.hold("A2", "bob");
    await gala.confirm("A2", "bob");
  }
  await using rt = await createRuntime({ config: app, dataDir });
  const gala = rt.env.EVENTS.getByName("gala");
  assert.deepEqual(await gala.seats(), [
    { seat: "A1", state: "held", holder: "ann", expiresAt },
    { seat: "A2", state: "confirmed", holder: "bob", expiresAt: null },
  ]);
  assert.equal(await scheduledAlarm(gala), expiresAt);
  await letTimePass(gala, HOLD_MS);
  assert.equal(await runDurableObjectAlarm(gala), true);
  assert.deepEqual(
    (await gala.seats()).map((s: { seat: string }) => s.seat),
    ["A2"],
  );
});

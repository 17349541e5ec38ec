import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createRuntime } from "stead";
import { runDurableObjectAlarm, runInDurableObject } from "stead/testing";

// The app as `stead start` runs it: its wrangler config, its code, a data directory.
const app = new URL("..", import.meta.url);
// Delays so long that no alarm fires by itself during a test: each step runs when the test
// calls runDurableObjectAlarm, which runs the scheduled alarm at once.
const vars = { STEP_DELAY_SECONDS: "3600", RETRY_DELAY_SECONDS: "60", MAX_ATTEMPTS: "3" };
const order = { items: [{ sku: "tea", quantity: 2 }], amount: 1200, address: "1 Main St" };

type Runtime = Awaited<ReturnType<typeof createRuntime>>;

async function start(rt: Runtime, id: string, input: object = order): Promise<any> {
  const response = await rt.fetch(`http://app/workflows/${id}`, {
    method: "POST",
    body: JSON.stringify(input),
  });
  assert.equal(response.status, 201, await response.clone().text());
  return response.json();
}

async function show(rt: Runtime, id: string): Promise<any> {
  const response = await rt.fetch(`http://app/workflows/${id}`);
  assert.equal(response.status, 200);
  return response.json();
}

/** Runs alarms until none is scheduled; returns how many ran. */
async function runToEnd(stub: unknown): Promise<number> {
  for (let ran = 0; ran < 50; ran++) {
    if (!(await runDurableObjectAlarm(stub as any))) return ran;
  }
  throw new Error("the workflow was still scheduling alarms after 50");
}

/** The log as "step action attempt outcome" lines. */
function lines(view: any): string[] {
  return view.log.map((e: any) => `${e.step} ${e.action} ${e.attempt} ${e.outcome}`);
}

const COMPLETED_LOG = [
  "reserve run 1 started",
  "reserve run 1 done",
  "charge run 1 started",
  "charge run 1 done",
  "ship run 1 started",
  "ship run 1 done",
];

test("runs the steps one alarm at a time until the order is complete", async () => {
  await using rt = await createRuntime({ config: app, vars });
  const stub = rt.env.WORKFLOWS.getByName("order-1");

  const started = await start(rt, "order-1");
  assert.equal(started.status, "running");
  assert.deepEqual(
    started.steps.map((s: any) => s.status),
    ["pending", "pending", "pending"],
  );
  assert.equal(started.nextRunAt, started.createdAt + 3_600_000, "first step after the delay");

  assert.equal(await runDurableObjectAlarm(stub), true);
  let view = await show(rt, "order-1");
  assert.deepEqual(
    view.steps.map((s: any) => [s.step, s.status]),
    [
      ["reserve", "done"],
      ["charge", "pending"],
      ["ship", "pending"],
    ],
  );
  assert.match(view.steps[0].result.reservationId, /^rsv_[0-9a-f]{12}$/);
  assert.equal(view.steps[0].result.units, 2);
  // The next step is scheduled a step delay after this one was recorded.
  const waited = view.nextRunAt - view.log.at(-1).at;
  assert.ok(waited >= 3_600_000 && waited < 3_601_000, `next step in ${waited} ms`);

  assert.equal(await runDurableObjectAlarm(stub), true);
  assert.equal(await runDurableObjectAlarm(stub), true);
  view = await show(rt, "order-1");
  assert.equal(view.status, "completed");
  assert.equal(view.nextRunAt, null);
  assert.deepEqual(lines(view), COMPLETED_LOG);
  assert.deepEqual(view.steps[1].result, { chargeId: view.steps[1].result.chargeId, amount: 1200 });
  assert.equal(view.steps[2].result.carrier, "Parcelo");
  assert.equal(await runDurableObjectAlarm(stub), false, "nothing left to run");
});

test("retries a failing step with backoff, then compensates the done steps in reverse", async () => {
  await using rt = await createRuntime({ config: app, vars });
  const stub = rt.env.WORKFLOWS.getByName("order-2");
  await start(rt, "order-2", { ...order, failAt: "ship" });
  await runDurableObjectAlarm(stub); // reserve
  await runDurableObjectAlarm(stub); // charge

  // Each failed attempt waits twice as long as the one before: 60 s, then 120 s.
  for (const [attempt, delay] of [
    [1, 60_000],
    [2, 120_000],
  ] as const) {
    assert.equal(await runDurableObjectAlarm(stub), true);
    const view = await show(rt, "order-2");
    const failure = view.log.at(-1);
    assert.deepEqual([failure.step, failure.attempt, failure.outcome], ["ship", attempt, "failed"]);
    assert.match(failure.detail, /no carrier accepted the parcel .*; retrying in \d+ s$/);
    const waited = view.nextRunAt - failure.at;
    assert.ok(waited >= delay && waited < delay + 1000, `retry ${attempt} in ${waited} ms`);
    assert.equal(view.status, "running");
  }

  // The third attempt is the last (MAX_ATTEMPTS 3); then charge and reserve are undone.
  assert.equal(await runToEnd(stub), 3);
  const view = await show(rt, "order-2");
  assert.equal(view.status, "compensated");
  assert.match(view.error, /^ship failed after 3 attempts: no carrier accepted the parcel/);
  assert.deepEqual(
    view.steps.map((s: any) => [s.step, s.status]),
    [
      ["reserve", "compensated"],
      ["charge", "compensated"],
      ["ship", "failed"],
    ],
  );
  assert.deepEqual(lines(view), [
    ...COMPLETED_LOG.slice(0, 4),
    "ship run 1 started",
    "ship run 1 failed",
    "ship run 2 started",
    "ship run 2 failed",
    "ship run 3 started",
    "ship run 3 failed",
    "charge compensate 1 started",
    "charge compensate 1 done",
    "reserve compensate 1 started",
    "reserve compensate 1 done",
  ]);
  const refund = JSON.parse(view.log.at(-3).detail);
  assert.equal(refund.amount, 1200);
  assert.deepEqual(JSON.parse(view.log.at(-1).detail), {
    released: view.steps[0].result.reservationId,
  });
  assert.equal(view.nextRunAt, null);
});

test("a step that fails once succeeds on its retry", async () => {
  await using rt = await createRuntime({ config: app, vars });
  const stub = rt.env.WORKFLOWS.getByName("order-3");
  await start(rt, "order-3", { ...order, failAt: "reserve", failTimes: 1 });
  assert.equal(await runToEnd(stub), 4);
  const view = await show(rt, "order-3");
  assert.equal(view.status, "completed");
  assert.deepEqual(lines(view), [
    "reserve run 1 started",
    "reserve run 1 failed",
    "reserve run 2 started",
    "reserve run 2 done",
    ...COMPLETED_LOG.slice(2),
  ]);
});

test("a step recorded done never runs again, however often the alarm is delivered", async () => {
  await using rt = await createRuntime({ config: app, vars });
  const stub = rt.env.WORKFLOWS.getByName("order-4");
  await start(rt, "order-4");
  await runDurableObjectAlarm(stub);
  const reserved = (await show(rt, "order-4")).steps[0].result;

  // Alarms are delivered at least once. A repeated delivery runs alarm() again: it goes on with
  // the first step not recorded done, never the one before.
  await runInDurableObject(stub, (workflow: any) => workflow.alarm());
  let view = await show(rt, "order-4");
  assert.deepEqual(lines(view), COMPLETED_LOG.slice(0, 4));
  assert.deepEqual(view.steps[0].result, reserved);

  await runToEnd(stub);
  await runInDurableObject(stub, (workflow: any) => workflow.alarm());
  await runInDurableObject(stub, (workflow: any) => workflow.alarm());
  view = await show(rt, "order-4");
  assert.equal(view.status, "completed");
  assert.deepEqual(lines(view), COMPLETED_LOG, "each step started exactly once");
  assert.equal(view.nextRunAt, null);
});

test("a step cut off by a crash before its outcome was recorded runs again", async () => {
  await using rt = await createRuntime({ config: app, vars });
  const stub = rt.env.WORKFLOWS.getByName("order-7");
  await start(rt, "order-7");
  await runDurableObjectAlarm(stub);
  // What a crash during the charge call leaves behind: its start logged, no outcome, and the
  // alarm, which the runtime delivers again.
  await runInDurableObject(stub, (_workflow, ctx) => {
    ctx.storage.sql.exec(
      "INSERT INTO log (at, step, action, attempt, outcome) VALUES (?, 'charge', 'run', 1, 'started')",
      Date.now(),
    );
  });
  assert.equal(await runToEnd(stub), 2);
  const view = await show(rt, "order-7");
  assert.equal(view.status, "completed");
  assert.deepEqual(lines(view), [
    ...COMPLETED_LOG.slice(0, 3),
    "charge run 2 started",
    "charge run 2 done",
    ...COMPLETED_LOG.slice(4),
  ]);
});

test("resumes after a restart from the last recorded step", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "workflow-test-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  let reserved: unknown;
  {
    await using rt = await createRuntime({ config: app, vars, dataDir });
    await start(rt, "order-5");
    await runDurableObjectAlarm(rt.env.WORKFLOWS.getByName("order-5"));
    reserved = (await show(rt, "order-5")).steps[0].result;
  }
  await using rt = await createRuntime({ config: app, vars, dataDir });
  const stub = rt.env.WORKFLOWS.getByName("order-5");
  const before = await show(rt, "order-5");
  assert.deepEqual(
    before.steps.map((s: any) => s.status),
    ["done", "pending", "pending"],
  );
  assert.equal(typeof before.nextRunAt, "number", "the alarm for the next step survived");
  assert.equal(await runToEnd(stub), 2);
  const view = await show(rt, "order-5");
  assert.equal(view.status, "completed");
  assert.deepEqual(lines(view), COMPLETED_LOG);
  assert.deepEqual(view.steps[0].result, reserved);
});

test("refuses bad input with what is wrong, and a second start of the same id", async () => {
  await using rt = await createRuntime({ config: app, vars });
  const post = async (body: string) => {
    const response = await rt.fetch("http://app/workflows/order-6", { method: "POST", body });
    return { status: response.status, error: ((await response.json()) as any).error as string };
  };
  const refused = async (body: unknown, message: RegExp) => {
    const { status, error } = await post(typeof body === "string" ? body : JSON.stringify(body));
    assert.equal(status, 400, error);
    assert.match(error, message);
    assert.match(error, /Send JSON like \{"items"/);
  };
  await refused("not json", /^The body must be a JSON object/);
  await refused({ ...order, items: [] }, /^items must be a list/);
  await refused({ ...order, items: [{ sku: "tea", quantity: 0 }] }, /^items\[0\]\.quantity/);
  await refused({ ...order, amount: 12.5 }, /^amount must be the total in cents/);
  await refused({ ...order, address: undefined }, /^address must be/);
  await refused({ ...order, failAt: "pack" }, /^failAt must be one of reserve, charge, ship/);
  await refused({ ...order, failTimes: 2 }, /^failTimes must be .* given with failAt/);
  await refused({ ...order, failat: "ship" }, /^Unknown field "failat"/);

  const missing = await rt.fetch("http://app/workflows/order-6");
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), {
    error: "No workflow order-6: start it with POST /workflows/order-6",
  });
  assert.equal((await post(JSON.stringify(order))).status, 201);
  assert.deepEqual(await post(JSON.stringify(order)), {
    status: 409,
    error: "workflow order-6 already exists (running)",
  });
  assert.equal((await rt.fetch("http://app/workflows/order-6", { method: "PUT" })).status, 405);
  assert.equal((await rt.fetch("http://app/orders")).status, 404);
});

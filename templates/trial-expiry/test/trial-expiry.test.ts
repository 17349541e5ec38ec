import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createRuntime } from "stead";
import { runDurableObjectAlarm, runInDurableObject } from "stead/testing";

// The app as `stead start` runs it: its wrangler config (14-day trials), its code, a data
// directory. No trial ends by itself during a test: runDurableObjectAlarm runs the alarm now.
const app = new URL("..", import.meta.url);
const DAY = 24 * 60 * 60 * 1000;

type Runtime = Awaited<ReturnType<typeof createRuntime>>;

async function post(rt: Runtime, path: string, body?: unknown) {
  const response = await rt.fetch(`http://app${path}`, {
    method: "POST",
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as any };
}

async function show(rt: Runtime, id: string): Promise<any> {
  const response = await rt.fetch(`http://app/accounts/${id}`);
  assert.equal(response.status, 200);
  return response.json();
}

/** The account's alarm, as the object itself sees it. */
function alarmOf(stub: unknown): Promise<number | null> {
  return runInDurableObject(stub as any, (_account, ctx) => ctx.storage.getAlarm());
}

const events = (account: any) => account.history.map((entry: any) => entry.event);

test("the alarm at the trial's end downgrades the account to free", async () => {
  await using rt = await createRuntime({ config: app });
  const stub = rt.env.ACCOUNTS.getByName("acme");

  const started = await post(rt, "/accounts/acme/trial");
  assert.equal(started.status, 201);
  assert.equal(started.body.plan, "trial");
  assert.equal(started.body.trialEndsAt, started.body.trialStartedAt + 14 * DAY);
  assert.equal(await alarmOf(stub), started.body.trialEndsAt);

  assert.equal(await runDurableObjectAlarm(stub), true);
  const account = await show(rt, "acme");
  assert.equal(account.plan, "free");
  assert.deepEqual(events(account), ["trial_started", "downgraded"]);
  assert.deepEqual(account.history[1], {
    at: account.history[1].at,
    event: "downgraded",
    plan: "free",
    trialEndsAt: started.body.trialEndsAt,
  });
  assert.equal(await alarmOf(stub), null);

  // One trial per account.
  assert.deepEqual(await post(rt, "/accounts/acme/trial"), {
    status: 409,
    body: { error: "Account acme already had its trial" },
  });
});

test("upgrading cancels the downgrade", async () => {
  await using rt = await createRuntime({ config: app });
  const stub = rt.env.ACCOUNTS.getByName("bolt");
  await post(rt, "/accounts/bolt/trial");

  const upgraded = await post(rt, "/accounts/bolt/upgrade");
  assert.equal(upgraded.status, 200);
  assert.equal(upgraded.body.plan, "paid");
  assert.equal(await alarmOf(stub), null);
  assert.equal(await runDurableObjectAlarm(stub), false, "no alarm is left to run");

  // Even an alarm delivered late (at least once: a retry after a crash) leaves it paid.
  await runInDurableObject(stub, (account: any) => account.alarm());
  const account = await show(rt, "bolt");
  assert.equal(account.plan, "paid");
  assert.deepEqual(events(account), ["trial_started", "upgraded"]);

  // Upgrading again changes nothing.
  assert.equal((await post(rt, "/accounts/bolt/upgrade")).status, 200);
  assert.deepEqual(events(await show(rt, "bolt")), ["trial_started", "upgraded"]);
});

test("extending a trial moves its alarm", async () => {
  await using rt = await createRuntime({ config: app });
  const stub = rt.env.ACCOUNTS.getByName("cove");
  const started = (await post(rt, "/accounts/cove/trial")).body;

  const extended = await post(rt, "/accounts/cove/extend", { days: 7 });
  assert.equal(extended.status, 200);
  assert.equal(extended.body.trialEndsAt, started.trialEndsAt + 7 * DAY);
  assert.equal(await alarmOf(stub), extended.body.trialEndsAt);
  const again = await post(rt, "/accounts/cove/extend", { days: 0.5 });
  assert.equal(again.body.trialEndsAt, started.trialEndsAt + 7.5 * DAY);
  assert.equal(await alarmOf(stub), again.body.trialEndsAt);

  assert.equal(await runDurableObjectAlarm(stub), true);
  const account = await show(rt, "cove");
  assert.equal(account.plan, "free");
  assert.deepEqual(events(account), [
    "trial_started",
    "trial_extended",
    "trial_extended",
    "downgraded",
  ]);
  assert.equal(account.history[3].trialEndsAt, again.body.trialEndsAt);
  // Only a running trial can be extended.
  assert.deepEqual(await post(rt, "/accounts/cove/extend", { days: 7 }), {
    status: 409,
    body: { error: "Account cove is on the free plan: only a running trial can be extended" },
  });
});

test("a repeated alarm downgrades only once", async () => {
  await using rt = await createRuntime({ config: app });
  const stub = rt.env.ACCOUNTS.getByName("dune");
  await post(rt, "/accounts/dune/trial");
  await runDurableObjectAlarm(stub);
  await runInDurableObject(stub, (account: any) => account.alarm());
  await runInDurableObject(stub, (account: any) => account.alarm());
  const account = await show(rt, "dune");
  assert.equal(account.plan, "free");
  assert.deepEqual(events(account), ["trial_started", "downgraded"]);
});

test("after a restart the alarm is still set and still downgrades", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "trial-expiry-test-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  let endsAt: number;
  {
    await using rt = await createRuntime({ config: app, dataDir });
    endsAt = (await post(rt, "/accounts/echo/trial")).body.trialEndsAt;
  }
  await using rt = await createRuntime({ config: app, dataDir });
  const stub = rt.env.ACCOUNTS.getByName("echo");
  assert.equal(await alarmOf(stub), endsAt);
  assert.equal((await show(rt, "echo")).plan, "trial");
  assert.equal(await runDurableObjectAlarm(stub), true);
  assert.equal((await show(rt, "echo")).plan, "free");
});

test("refuses what it cannot do, saying why", async () => {
  await using rt = await createRuntime({ config: app });
  const missing = {
    status: 404,
    body: { error: "No account fern: start its trial with POST /accounts/fern/trial" },
  };
  assert.deepEqual(await post(rt, "/accounts/fern/upgrade"), missing);
  assert.deepEqual(await post(rt, "/accounts/fern/extend", { days: 1 }), missing);
  const response = await rt.fetch("http://app/accounts/fern");
  assert.deepEqual({ status: response.status, body: await response.json() }, missing);

  await post(rt, "/accounts/fern/trial");
  const trialAgain = await post(rt, "/accounts/fern/trial");
  assert.equal(trialAgain.status, 409);
  assert.match(trialAgain.body.error, /^Account fern is on a trial until \d{4}-\d\d-\d\dT/);
  for (const body of [undefined, { days: 0 }, { days: "7" }, { days: 400 }]) {
    const refused = await post(rt, "/accounts/fern/extend", body);
    assert.equal(refused.status, 400, JSON.stringify(body));
    assert.match(refused.body.error, /^Send JSON like \{"days": 7\}/);
  }
  await post(rt, "/accounts/fern/upgrade");
  assert.equal(
    (await post(rt, "/accounts/fern/trial")).body.error,
    "Account fern is on the paid plan",
  );

  assert.equal((await rt.fetch("http://app/accounts/fern/trial")).status, 405);
  assert.equal((await rt.fetch("http://app/accounts/fern", { method: "POST" })).status, 405);
  assert.equal((await rt.fetch("http://app/users/fern")).status, 404);
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { copyTemplate } from "../support/apps.ts";
import { okJson } from "../support/fetch.ts";
import { startStead } from "../support/stead-process.ts";
import { testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { eventually } from "../support/wait-for.ts";

const HOST = ["--host", "127.0.0.1"];

interface Account {
  plan: "trial" | "free" | "paid";
  trialEndsAt: number;
  history: Array<{ at: number; event: string; plan: string; trialEndsAt: number }>;
}

function post(base: string, path: string): Promise<Account> {
  return okJson(`${base}${path}`, { method: "POST" });
}

function show(base: string, id: string): Promise<Account> {
  return okJson(`${base}/accounts/${id}`);
}

/** A copy of the template whose trials last `seconds`. */
function withTrialSeconds(into: string, seconds: number): Promise<string> {
  return copyTemplate("trial-expiry", into, {
    file: "wrangler.jsonc",
    replace: [`"TRIAL_DAYS": "14"`, `"TRIAL_DAYS": "${seconds / 86_400}"`],
  });
}

/** Waits until the clock passes `time` (real time has to pass: the app's trials use it). */
async function timePasses(time: number, what: string): Promise<void> {
  await eventually(what, () => (Date.now() > time ? true : undefined), { timeoutMs: 5000 });
}

/** Waits for the account to leave its trial and returns it. */
function downgraded(base: string, id: string): Promise<Account> {
  return eventually(
    `account ${id} to be downgraded`,
    async () => {
      const account = await show(base, id);
      return account.plan === "trial" ? undefined : account;
    },
    { timeoutMs: 10_000 },
  );
}

describe("templates/trial-expiry under stead start", () => {
  it("downgrades on time after a SIGKILL and restart before the trial's end; an upgrade stays paid", async () => {
    using work = tempDataDir();
    using store = testStore();
    // Long enough for a SIGKILL and a restart to fit in the trial on a loaded machine.
    const app = await withTrialSeconds(work.path, 8);
    const args = [app, ...HOST];

    await using first = await startStead("start", args, { store });
    const acme = await post(first.url, "/accounts/acme/trial");
    await post(first.url, "/accounts/bolt/trial");
    await post(first.url, "/accounts/bolt/upgrade");
    assert.equal(acme.plan, "trial");
    assert.deepEqual(await first.stop("SIGKILL"), { code: null, signal: "SIGKILL" });
    assert.ok(Date.now() < acme.trialEndsAt, "the server was killed before the trial's end");

    await using again = await startStead("start", args, { store });
    assert.equal((await show(again.url, "acme")).plan, "trial");
    assert.ok(Date.now() < acme.trialEndsAt, "the server was back before the trial's end");
    const account = await downgraded(again.url, "acme");
    assert.equal(account.plan, "free");
    const downgrade = account.history.at(-1)!;
    assert.deepEqual(
      account.history.map((entry) => entry.event),
      ["trial_started", "downgraded"],
    );
    assert.equal(downgrade.trialEndsAt, acme.trialEndsAt);
    const late = downgrade.at - acme.trialEndsAt;
    assert.ok(late >= 0 && late < 1500, `downgraded ${late} ms after the trial's end`);

    // The upgraded account's alarm stayed deleted through the crash.
    await timePasses(acme.trialEndsAt + 200, "bolt's trial end to pass");
    const bolt = await show(again.url, "bolt");
    assert.equal(bolt.plan, "paid");
    assert.deepEqual(
      bolt.history.map((entry) => entry.event),
      ["trial_started", "upgraded"],
    );
  });

  it("downgrades as soon as it starts an account whose trial ended while it was down", async () => {
    using work = tempDataDir();
    using store = testStore();
    const app = await withTrialSeconds(work.path, 1);
    const args = [app, ...HOST];

    await using first = await startStead("start", args, { store });
    const acme = await post(first.url, "/accounts/acme/trial");
    assert.deepEqual(await first.stop("SIGKILL"), { code: null, signal: "SIGKILL" });
    // The trial ends while no server runs.
    await timePasses(acme.trialEndsAt + 100, "the trial's end to pass");

    const restartedAt = Date.now();
    await using again = await startStead("start", args, { store });
    const account = await downgraded(again.url, "acme");
    assert.equal(account.plan, "free");
    assert.deepEqual(
      account.history.map((entry) => entry.event),
      ["trial_started", "downgraded"],
    );
    const downgrade = account.history.at(-1)!;
    assert.ok(downgrade.at >= restartedAt, "the overdue alarm fired after the restart");
    assert.ok(downgrade.at - restartedAt < 5000, "…and as soon as the server started");
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { copyTemplate } from "../support/apps.ts";
import { okJson } from "../support/fetch.ts";
import { startStead } from "../support/stead-process.ts";
import { testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { eventually } from "../support/wait-for.ts";

const HOST = ["--host", "127.0.0.1"];
const ORDER = { items: [{ sku: "tea", quantity: 2 }], amount: 1200, address: "1 Main St" };

interface Workflow {
  status: string;
  steps: Array<{ step: string; status: string; result: Record<string, unknown> | null }>;
  log: Array<{ step: string; action: string; attempt: number; outcome: string }>;
}

function show(base: string, id: string): Promise<Workflow> {
  return okJson(`${base}/workflows/${id}`);
}

describe("templates/workflow under stead start", () => {
  it("finishes a workflow killed mid-way once restarted, running every step exactly once", async () => {
    using work = tempDataDir();
    using store = testStore();
    // One second between steps: time to see the first step recorded and kill the server.
    const app = await copyTemplate("workflow", work.path, {
      file: "wrangler.jsonc",
      replace: [`"STEP_DELAY_SECONDS": "2"`, `"STEP_DELAY_SECONDS": "1"`],
    });
    const args = [app, ...HOST];

    await using first = await startStead("start", args, { store });
    const started = await fetch(`${first.url}/workflows/order-1`, {
      method: "POST",
      body: JSON.stringify(ORDER),
    });
    assert.equal(started.status, 201);
    const midway = await eventually(
      "the first step to be recorded",
      async () => {
        const view = await show(first.url, "order-1");
        return view.steps[0]?.status === "done" ? view : undefined;
      },
      { timeoutMs: 10_000 },
    );
    assert.equal(midway.status, "running");
    assert.equal(midway.steps[1]?.status, "pending");
    assert.deepEqual(await first.stop("SIGKILL"), { code: null, signal: "SIGKILL" });

    await using again = await startStead("start", args, { store });
    const done = await eventually(
      "the workflow to complete after the restart",
      async () => {
        const view = await show(again.url, "order-1");
        return view.status === "running" ? undefined : view;
      },
      { timeoutMs: 15_000 },
    );
    assert.equal(done.status, "completed");
    assert.deepEqual(
      done.steps.map((s) => s.status),
      ["done", "done", "done"],
    );
    assert.deepEqual(done.steps[0]!.result, midway.steps[0]!.result, "reserve was not redone");
    assert.deepEqual(
      done.log.map((e) => `${e.step} ${e.action} ${e.attempt} ${e.outcome}`),
      [
        "reserve run 1 started",
        "reserve run 1 done",
        "charge run 1 started",
        "charge run 1 done",
        "ship run 1 started",
        "ship run 1 done",
      ],
    );
  });
});

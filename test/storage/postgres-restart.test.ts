// PostgreSQL itself crashes and restarts under load (a server of the test's own, stopped with
// `pg_ctl -m immediate`, then started again): Stead's outputs fail cleanly while it is down, the
// objects reset and recover by themselves once it is back, and no acknowledged write is lost,
// even after Stead is killed and its data directory deleted.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { TEMPLATES } from "../support/apps.ts";
import { startPrivatePostgres } from "../support/private-postgres.ts";
import { startStead } from "../support/stead-process.ts";
import { oncePerCheck } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { waitFor } from "../support/wait-for.ts";

const COUNTER = join(TEMPLATES, "counter");
const COUNTERS = 8;
const WORKERS = 16;

/** Increments counters until stopped, recording every acknowledged value and every failure. */
function load(url: () => string) {
  const acked = Array.from({ length: COUNTERS }, () => [] as number[]);
  const failures: string[] = [];
  let running = true;
  const worker = async (w: number) => {
    for (let i = w; running; i += WORKERS) {
      const name = `c${i % COUNTERS}`;
      try {
        const response = await fetch(`${url()}/${name}`, { method: "POST" });
        if (response.ok) acked[i % COUNTERS]!.push((await response.json()).value as number);
        else failures.push(`${response.status} ${await response.text()}`);
      } catch (error) {
        failures.push(String(error));
      }
    }
  };
  const done = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  return {
    acked,
    failures,
    total: () => acked.reduce((sum, values) => sum + values.length, 0),
    async stop() {
      running = false;
      await done;
    },
  };
}

describe("PostgreSQL restarted under load", { skip: oncePerCheck() }, () => {
  it("fails outputs cleanly while it is down, recovers by itself, and loses no acknowledged write", async (t) => {
    await using postgres = await startPrivatePostgres();
    using data = tempDataDir();
    const args = [COUNTER, "--data-dir", data.path, "--host", "127.0.0.1"];
    const storage = ["--storage", postgres.url("stead"), "--threads", "2"];
    let stead = await startStead("start", [...args, ...storage]);
    const writes = load(() => stead.url);
    try {
      await waitFor(() => writes.total() >= 200, "writes before the crash", 30_000);
      postgres.stop("immediate");
      const before = writes.total();
      await waitFor(
        () => writes.failures.length >= 20,
        "writes failing while PostgreSQL is down",
        30_000,
      );
      postgres.start();
      await waitFor(() => writes.total() >= before + 200, "writes after the restart", 60_000);
    } finally {
      await writes.stop();
    }
    t.diagnostic(
      `${writes.total()} writes acknowledged, ${writes.failures.length} failed; first: ${writes.failures[0]}`,
    );
    // Clean failures: a 5xx with the runtime's error text, never a hang or a dropped connection.
    for (const failure of writes.failures) assert.match(failure, /^5\d\d /, failure);
    assert.ok(
      writes.failures.some((failure) => /STORAGE_UNAVAILABLE|PostgreSQL/.test(failure)),
      `a failure names PostgreSQL: ${writes.failures.slice(0, 3).join(" | ")}`,
    );
    // Each acknowledged value of a counter is a distinct committed state: a lost commit would
    // have been counted again.
    for (const values of writes.acked) {
      assert.equal(new Set(values).size, values.length, "no acknowledged value repeats");
    }
    assert.deepEqual(await stead.stop("SIGKILL"), { code: null, signal: "SIGKILL" });
    rmSync(data.path, { recursive: true, force: true });
    stead = await startStead("start", [...args, ...storage]);
    try {
      for (let c = 0; c < COUNTERS; c++) {
        const response = await fetch(`${stead.url}/c${c}`);
        const { value } = (await response.json()) as { value: number };
        const highest = Math.max(0, ...writes.acked[c]!);
        assert.ok(value >= highest, `c${c} holds ${value}, acknowledged up to ${highest}`);
        assert.ok(value >= writes.acked[c]!.length, `c${c}: every acknowledged increment is there`);
      }
    } finally {
      await stead.stop();
    }
  });
});

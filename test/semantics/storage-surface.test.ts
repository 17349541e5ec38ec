// ctx.storage shows apps Cloudflare's API and nothing of the runtime's bookkeeping; LocalDriver
// shows its StorageDriver members and nothing of what its handles call back.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LocalDriver } from "../../src/index.ts";
import { inObject, startStorageRuntime } from "../support/storage-harness.ts";
import { tempDataDir } from "../support/temp-dir.ts";

/** Every property name reachable on `value` through its prototypes (Object's own left out). */
function memberNames(value: object): Set<string> {
  const names = new Set<string>();
  for (let o: object | null = value; o !== null && o !== Object.prototype; ) {
    for (const name of Object.getOwnPropertyNames(o)) names.add(name);
    o = Object.getPrototypeOf(o);
  }
  return names;
}

const RUNTIME_ONLY = ["readAlarm", "alarmRunning", "completeAlarm", "beforeCommit"];

describe("ctx.storage", () => {
  it("has no members of the runtime's own (alarm bookkeeping, the commit hook)", async () => {
    await using rt = await startStorageRuntime();
    const seen = await inObject(rt, "a", (_, ctx) => {
      const names = memberNames(ctx.storage);
      return RUNTIME_ONLY.filter((name) => names.has(name));
    });
    assert.deepEqual(seen, []);
  });
});

describe("LocalDriver", () => {
  it("keeps what its database handles call back to itself", async () => {
    using dir = tempDataDir();
    const driver = new LocalDriver({ dataDir: dir.path });
    try {
      const names = memberNames(driver);
      const internal = [
        "beforeFlush",
        "syncDirectory",
        "opening",
        "disconnected",
        "reopening",
        "release",
        "checkpointAfterCommits",
        "historyOptions",
      ];
      assert.deepEqual(
        internal.filter((name) => names.has(name)),
        [],
      );
    } finally {
      await driver.close();
    }
  });
});

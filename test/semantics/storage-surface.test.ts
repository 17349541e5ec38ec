// ctx.storage shows apps Cloudflare's API and nothing of the runtime's bookkeeping.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { inObject, startStorageRuntime, tempDataDir } from "../fixtures/storage-harness.ts";

const RUNTIME_ONLY = ["readAlarm", "alarmRunning", "completeAlarm", "beforeCommit"];

describe("ctx.storage", () => {
  it("has no members of the runtime's own (alarm bookkeeping, the commit hook)", async () => {
    using dir = tempDataDir();
    await using rt = await startStorageRuntime({ dataDir: dir.path });
    const seen = await inObject(rt, "a", (_, ctx) => {
      const storage = ctx.storage as unknown as Record<string, unknown>;
      const names = new Set<string>();
      for (let o: object | null = storage; o !== null && o !== Object.prototype; ) {
        for (const name of Object.getOwnPropertyNames(o)) names.add(name);
        o = Object.getPrototypeOf(o);
      }
      return RUNTIME_ONLY.filter((name) => names.has(name) || name in storage);
    });
    assert.deepEqual(seen, []);
  });
});

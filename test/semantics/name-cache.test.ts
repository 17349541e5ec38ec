// Names are any strings clients send, so the cache of named ids is bounded by bytes: ten
// thousand 15 KB names must not stay in memory (issue 9: the heap went from 116 to 430 MiB),
// and a name that left the cache still resolves to the same object, with ctx.id.name intact.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { inObject, startStorageRuntime } from "../support/storage-harness.ts";

const CHILD = fileURLToPath(new URL("../fixtures/name-memory-child.ts", import.meta.url));
const MiB = 1024 * 1024;

async function heapGrowth(count: number, nameBytes: number): Promise<number> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--expose-gc", CHILD, String(count), String(nameBytes)],
    { maxBuffer: MiB },
  );
  return (JSON.parse(stdout) as { growth: number }).growth;
}

describe("name cache", () => {
  it("keeps the heap within its 8 MiB budget after 10,000 names of 15 KB", async () => {
    const growth = await heapGrowth(10_000, 15_000);
    // 150 MB of names went through; the most that stays is the cache (8 MiB) plus noise.
    assert.ok(growth < 8 * MiB + 8 * MiB, `heap grew ${(growth / MiB).toFixed(1)} MiB`);
  });

  it("keeps the heap within its budget after 200 names of 1 MB", async () => {
    const growth = await heapGrowth(200, 1_000_000);
    assert.ok(growth < 8 * MiB + 8 * MiB, `heap grew ${(growth / MiB).toFixed(1)} MiB`);
  });

  it("resolves a name that left the cache to the same object, with ctx.id.name intact", async () => {
    await using rt = await startStorageRuntime({
      nameCacheBytes: 64 * 1024,
      objects: { maxActive: 1 },
    });
    const first = rt.env.STORE.idFromName("first").toString();
    await inObject(rt, "first", (_, ctx) => ctx.storage.put("mine", "first's"));
    // Enough other names to push "first" out of a 64 KiB cache, and another object woken so
    // "first" also leaves memory (maxActive: 1).
    for (let i = 0; i < 2000; i++) rt.env.STORE.idFromName(`other-${i}`);
    await inObject(rt, "other-0", (_, ctx) => ctx.storage.put("mine", "other's"));
    assert.equal(rt.env.STORE.idFromName("first").toString(), first);
    const seen = await inObject(rt, "first", async (_, ctx) => ({
      id: ctx.id.toString(),
      name: ctx.id.name,
      value: await ctx.storage.get("mine"),
    }));
    assert.deepEqual(seen, { id: first, name: "first", value: "first's" });
  });
});

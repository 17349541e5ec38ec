import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createRuntime } from "stead";

// The app as `stead start` runs it: its wrangler config, its code, a data directory.
const app = new URL("..", import.meta.url);

test("counts per name over HTTP", async () => {
  await using rt = await createRuntime({ config: app });
  const post = (name: string) => rt.fetch(`http://app/${name}`, { method: "POST" });
  assert.deepEqual(await (await post("apples")).json(), { name: "apples", value: 1 });
  assert.deepEqual(await (await post("apples")).json(), { name: "apples", value: 2 });
  assert.deepEqual(await (await post("pears")).json(), { name: "pears", value: 1 });
  assert.deepEqual(await (await rt.fetch("http://app/apples")).json(), {
    name: "apples",
    value: 2,
  });
});

test("keeps each count through a restart", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "counter-test-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  {
    await using rt = await createRuntime({ config: app, dataDir });
    assert.equal(await rt.env.COUNTER.getByName("apples").increment(), 1);
    assert.equal(await rt.env.COUNTER.getByName("apples").increment(), 2);
  }
  await using rt = await createRuntime({ config: app, dataDir });
  assert.equal(await rt.env.COUNTER.getByName("apples").get(), 2);
});

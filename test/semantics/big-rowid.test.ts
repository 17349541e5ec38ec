import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createRuntime } from "../../src/index.ts";
import { runInDurableObject } from "../../src/testing/index.ts";
import { storageOptions } from "../support/storage.ts";

describe("a SQL rowid above 2^53", () => {
  it("does not break later KV writes, alarms or commits of the object", async () => {
    await using rt = await createRuntime({
      main: new URL("../fixtures/counter-worker.ts", import.meta.url),
      durableObjects: { COUNTER: "Counter" },
      ...storageOptions(),
    });
    const stub = rt.env.COUNTER.getByName("big");
    await runInDurableObject(stub, (_instance, ctx) => {
      ctx.storage.sql.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
      ctx.storage.sql.exec("INSERT INTO t VALUES (9007199254740993, 'x')");
    });
    assert.equal(await stub.increment(), 1);
    assert.equal(await stub.increment(), 2);
    const deleted = await runInDurableObject(stub, (_instance, ctx) => ctx.storage.delete("count"));
    assert.equal(deleted, true);
  });
});

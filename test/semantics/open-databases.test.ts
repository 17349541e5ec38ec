import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createRuntime, LocalDriver, ManualClock } from "../../src/index.ts";
import { runInDurableObject } from "../../src/testing/index.ts";
import { skipUnless, storageOptions } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const COUNTER_WORKER = new URL("../fixtures/counter-worker.ts", import.meta.url);

function start(maxOpenDatabases: number) {
  return createRuntime({
    main: COUNTER_WORKER,
    durableObjects: { COUNTER: "Counter" },
    maxOpenDatabases,
    ...storageOptions(),
  });
}

describe("more objects than open databases (maxOpenDatabases)", () => {
  it("keeps every object's increments exact when only one database may be open", async () => {
    await using rt = await start(1);
    const names = Array.from({ length: 12 }, (_, i) => `c${i}`);
    const results = await Promise.all(
      Array.from({ length: 240 }, (_, i) => rt.env.COUNTER.getByName(names[i % 12]!).increment()),
    );
    for (const [n, name] of names.entries()) {
      const mine = results.filter((_, i) => i % 12 === n).sort((a, b) => a - b);
      assert.deepEqual(
        mine,
        Array.from({ length: 20 }, (_, i) => i + 1),
        name,
      );
      assert.equal(await rt.env.COUNTER.getByName(name).count(), 20);
    }
  });

  it("keeps a SQL cursor readable across an await while other objects open theirs", async () => {
    await using rt = await start(1);
    const stub = rt.env.COUNTER.getByName("reader");
    await runInDurableObject(stub, (_instance, ctx) => {
      ctx.storage.sql.exec("CREATE TABLE t (v INTEGER)");
      for (let v = 0; v < 5; v++) ctx.storage.sql.exec("INSERT INTO t VALUES (?)", v);
    });
    const read = await runInDurableObject(stub, async (_instance, ctx) => {
      const cursor = ctx.storage.sql.exec<{ v: number }>("SELECT v FROM t ORDER BY v");
      const first = cursor.next();
      await Promise.all(["a", "b", "c"].map((name) => rt.env.COUNTER.getByName(name).increment()));
      return [first.done ? undefined : first.value.v, ...[...cursor].map((row) => row.v)];
    });
    assert.deepEqual(read, [0, 1, 2, 3, 4]);
  });

  it("closes the databases of objects that leave memory, keeping their data", {
    skip: skipUnless("localFiles", "counts the database files the local driver holds open"),
  }, async () => {
    using dir = tempDataDir();
    const driver = new LocalDriver({ dataDir: dir.path });
    const clock = new ManualClock();
    await using rt = await createRuntime({
      main: COUNTER_WORKER,
      durableObjects: { COUNTER: "Counter" },
      driver,
      clock,
      objects: { idleTimeoutMs: 10_000 },
    });
    for (let i = 0; i < 20; i++) await rt.env.COUNTER.getByName(`idle-${i}`).increment();
    assert.equal(driver.openDatabases, 20);
    await clock.advance(10_000);
    assert.equal(driver.openDatabases, 0, "evicted objects hold no SQLite connection");
    assert.equal(await rt.env.COUNTER.getByName("idle-3").increment(), 2);
  });

  it("rejects a bad maxOpenDatabases, and one given alongside a custom driver", async () => {
    await assert.rejects(start(0), {
      code: "INVALID_CONFIG",
      message: /maxOpenDatabases: must be a positive integer, like 1000/,
    });
    using dir = tempDataDir();
    const driver = new LocalDriver({ dataDir: dir.path });
    try {
      await assert.rejects(
        createRuntime({
          main: COUNTER_WORKER,
          durableObjects: { COUNTER: "Counter" },
          driver,
          maxOpenDatabases: 10,
        }),
        { code: "INVALID_CONFIG", message: /pass it to your driver instead/ },
      );
    } finally {
      await driver.close();
    }
  });
});

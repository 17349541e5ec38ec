// A namespace's id key is a random secret created with the namespace and kept in the data
// directory's control database: ids cannot be made offline, a class deleted and created again
// does not get its old ids back, and data directories whose recorded key is the old public
// `stead:<Class>` keep it, so the ids they stored still resolve.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { IdFactory } from "../../src/core/ids/object-id.ts";
import { createRuntime, type Migration } from "../../src/index.ts";
import { start } from "../support/rpc-runtime.ts";
import { type StoreOptions, skipUnless, testStore } from "../support/storage.ts";

const MIGRATIONS_WORKER = new URL("../fixtures/migrations-worker.ts", import.meta.url);
const FOREIGN_ID = "Durable Object ID is not valid for this namespace.";

/** `idFromName(name)` of ECHO in a runtime on `store`. */
async function echoId(store: StoreOptions, name: string): Promise<string> {
  await using rt = await start(store);
  return rt.env.ECHO.idFromName(name).toString();
}

describe("namespace id keys", () => {
  it("differ between two new data directories", async () => {
    using a = testStore();
    using b = testStore();
    const inA = await echoId(a.options, "room");
    assert.equal(await echoId(a.options, "room"), inA, "stable within one data directory");
    assert.notEqual(await echoId(b.options, "room"), inA);
    await using rt = await start(b.options);
    assert.throws(() => rt.env.ECHO.idFromString(inA), { name: "TypeError", message: FOREIGN_ID });
  });

  it("are not the public stead:<Class> a client could compute", async () => {
    using store = testStore();
    const forged = new IdFactory("stead:Echo").fromName("room").toString();
    assert.notEqual(await echoId(store.options, "room"), forged);
    await using rt = await start(store.options);
    assert.throws(() => rt.env.ECHO.idFromString(forged), { message: FOREIGN_ID });
  });

  it("are new for a class deleted and created again", async () => {
    using store = testStore();
    const v1: Migration = { tag: "v1", new_sqlite_classes: ["Room", "Doomed"] };
    const v2: Migration = { tag: "v2", deleted_classes: ["Doomed"] };
    const v3: Migration = { tag: "v3", new_sqlite_classes: ["Doomed"] };
    let before: string;
    {
      await using rt = await createRuntime({
        main: MIGRATIONS_WORKER,
        ...store.options,
        migrations: [v1],
        durableObjects: { DOOMED: "Doomed" },
      });
      before = rt.env.DOOMED.idFromName("a").toString();
      await rt.env.DOOMED.getByName("a").write("k", "old");
    }
    await using rt = await createRuntime({
      main: MIGRATIONS_WORKER,
      ...store.options,
      migrations: [v1, v2, v3],
      confirmDeletions: ["v2"],
      durableObjects: { DOOMED: "Doomed" },
    });
    assert.notEqual(rt.env.DOOMED.idFromName("a").toString(), before);
    assert.throws(() => rt.env.DOOMED.idFromString(before), { message: FOREIGN_ID });
    assert.equal(await rt.env.DOOMED.getByName("a").read("k"), undefined);
  });

  it("an existing data directory keeps its recorded key: stored ids still resolve to their data", {
    skip: skipUnless("localFiles", "rewrites the key recorded in the control database file"),
  }, async () => {
    using store = testStore();
    // A data directory of an earlier Stead: ECHO's recorded key is the public stead:Echo.
    {
      await using rt = await start(store.options);
      rt.env.ECHO.idFromName("x");
    }
    const control = new DatabaseSync(join(store.dataDir, "stead-control.sqlite"));
    control.exec("UPDATE namespaces SET unique_key = 'stead:' || storage_name");
    control.close();
    const legacy = new IdFactory("stead:Echo").fromName("room").toString();
    let unique: string;
    {
      await using rt = await start(store.options);
      assert.equal(rt.env.ECHO.idFromName("room").toString(), legacy);
      await rt.env.ECHO.getByName("room").save("k", "kept");
      const id = rt.env.ECHO.newUniqueId();
      unique = id.toString();
      await rt.env.ECHO.get(id).save("k", "unique");
    }
    await using rt = await start(store.options);
    assert.equal(rt.env.ECHO.idFromName("room").toString(), legacy);
    assert.equal(await rt.env.ECHO.get(rt.env.ECHO.idFromString(legacy)).load("k"), "kept");
    assert.equal(await rt.env.ECHO.get(rt.env.ECHO.idFromString(unique)).load("k"), "unique");
  });
});

// Objects listed with their names (`idFromName`) through the admin API that `stead objects list`
// uses, filtered by name prefix: objects on the main thread and on object threads, on every
// storage, across a restart of the runtime.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AdminApi } from "../../src/admin/admin-api.ts";
import { createRuntime } from "../../src/embedded/create-runtime.ts";
import { runtimeAdmin } from "../../src/embedded/runtime-admin.ts";
import type { Runtime } from "../../src/index.ts";
import { type StoreOptions, skipUnless, testStore } from "../support/storage.ts";

const MAIN = new URL("../fixtures/counter-worker.ts", import.meta.url);

function start(store: StoreOptions, threads: number): Promise<Runtime> {
  return createRuntime({
    main: MAIN,
    durableObjects: { COUNTER: "Counter" },
    ...store,
    threads,
    onError: () => {},
  });
}

/** Every page of `list`, as [name, id] pairs in id order, with the total the first page gave. */
async function listAll(api: AdminApi, prefix?: string, limit?: number) {
  const objects: Array<{ id: string; name: string | null }> = [];
  let cursor: string | undefined;
  let total: number | undefined;
  do {
    const page = await api.list("Counter", {
      ...(prefix === undefined ? {} : { prefix }),
      ...(cursor === undefined ? {} : { cursor }),
      ...(limit === undefined ? {} : { limit }),
    });
    total ??= page.total;
    objects.push(...page.objects);
    cursor = page.cursor ?? undefined;
  } while (cursor !== undefined);
  return { objects, total };
}

const names = (objects: Array<{ name: string | null }>) =>
  objects.map((object) => object.name ?? "-").sort();

for (const threads of [0, 2]) {
  describe(`listing objects by name (admin API, threads: ${threads})`, {
    skip: threads > 0 && skipUnless("threads", "runs objects on object threads"),
  }, () => {
    it("lists each object with its name and filters them by name prefix", async () => {
      using store = testStore();
      let unique: string;
      {
        await using rt = await start(store.options, threads);
        const ns = rt.env.COUNTER;
        for (const name of ["room-a", "room-b", "room-c", "user-1", "ünïcode-1"]) {
          assert.equal(await ns.getByName(name).increment(), 1);
        }
        const id = ns.newUniqueId();
        unique = id.toString();
        await ns.get(id).increment();
        // Never stored anything: not an object of the store, named or not.
        assert.equal(await ns.getByName("room-never-stored").whoami(), "room-never-stored");

        const api = new AdminApi(runtimeAdmin(rt));
        const all = await listAll(api);
        assert.equal(all.total, 6);
        assert.deepEqual(names(all.objects), [
          "-",
          "room-a",
          "room-b",
          "room-c",
          "user-1",
          "ünïcode-1",
        ]);
        const idOf = (name: string | null) => all.objects.find((o) => o.name === name)?.id;
        assert.equal(idOf("room-a"), ns.idFromName("room-a").toString());
        assert.equal(idOf(null), unique, "made by newUniqueId: no name");

        const rooms = await listAll(api, "room-", 2);
        assert.equal(rooms.total, 3);
        assert.deepEqual(names(rooms.objects), ["room-a", "room-b", "room-c"], "over two pages");
        assert.deepEqual(names((await listAll(api, "ü")).objects), ["ünïcode-1"]);
        assert.equal((await listAll(api, "nobody")).total, 0);
        assert.deepEqual(
          (await api.namespaces()).map((n) => [n.className, n.objects]),
          [["Counter", 6]],
        );
      }
      // A new runtime on the same store lists the same names, before any object is used again.
      await using again = await start(store.options, threads);
      const api = new AdminApi(runtimeAdmin(again));
      assert.deepEqual(names((await listAll(api, "room-")).objects), [
        "room-a",
        "room-b",
        "room-c",
      ]);
      assert.equal((await listAll(api)).total, 6);
    });
  });
}

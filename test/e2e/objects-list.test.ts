// `stead objects list CLASS --prefix NAME` as an operator runs it: against a running server's
// admin API (objects on object threads), and on the data directory of a stopped one.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runStead, startStead } from "../support/stead-process.ts";
import { skipUnless, type TestStore, testStore } from "../support/storage.ts";
import { eventually } from "../support/wait-for.ts";

const COUNTER = fileURLToPath(new URL("../../templates/counter", import.meta.url));
const TOKEN = "a-read-write-token-for-objects-list";
const NAMES = ["room-a", "room-b", "user-1"];

/** Runs the counter app on `store` with two object threads, and adds one to each of `NAMES`. */
async function serveCounters(store: TestStore) {
  const server = await startStead("start", [COUNTER, "--threads", "2", "--admin-port", "0"], {
    store,
    env: { STEAD_ADMIN_TOKEN: TOKEN },
  });
  for (const name of NAMES) {
    const response = await fetch(`${server.url}/${name}`, { method: "POST" });
    assert.deepEqual(await response.json(), { name, value: 1 });
  }
  const adminUrl = await eventually("the admin API's address in the log", () => {
    const url = server.logs.find((record) => typeof record.adminUrl === "string")?.adminUrl;
    return url as string | undefined;
  });
  return { server, adminUrl };
}

describe("stead objects list --prefix", () => {
  it("lists a running server's objects with their names, filtered by prefix", async () => {
    using store = testStore();
    const { server, adminUrl } = await serveCounters(store);
    await using _ = server;
    const env = { STEAD_ADMIN_TOKEN: TOKEN };
    const all = await runStead(["objects", "list", "Counter", "--url", adminUrl], { env });
    assert.equal(all.code, 0, all.stderr);
    for (const name of NAMES) assert.match(all.stdout, new RegExp(`[0-9a-f]{64}  ${name}\\n`));
    assert.match(all.stdout, /^3 of 3 objects$/m);

    const rooms = await runStead(
      ["objects", "list", "Counter", "--prefix", "room-", "--url", adminUrl],
      { env },
    );
    assert.equal(rooms.code, 0, rooms.stderr);
    assert.match(rooms.stdout, /room-a/);
    assert.match(rooms.stdout, /room-b/);
    assert.doesNotMatch(rooms.stdout, /user-1/);
    assert.match(rooms.stdout, /^2 of 2 objects$/m);

    const json = await runStead(
      ["objects", "list", "Counter", "--prefix", "user", "--json", "--url", adminUrl],
      { env },
    );
    assert.equal(json.code, 0, json.stderr);
    const page = JSON.parse(json.stdout) as { objects: Array<{ name: string }>; total: number };
    assert.deepEqual(
      page.objects.map((object) => object.name),
      ["user-1"],
    );
    assert.equal(page.total, 1);
  });

  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    it(`lists by name from the data directory of a server stopped with ${signal}`, {
      skip: skipUnless(
        "localFiles",
        "reads the data directory with no server (objects live there)",
      ),
    }, async () => {
      using store = testStore();
      const { server } = await serveCounters(store);
      await server.stop(signal);
      const rooms = await runStead(["objects", "list", "Counter", "--prefix", "room-"], { store });
      assert.equal(rooms.code, 0, rooms.stderr);
      assert.match(rooms.stdout, /room-a/);
      assert.match(rooms.stdout, /room-b/);
      assert.doesNotMatch(rooms.stdout, /user-1/);
      assert.match(rooms.stdout, /^2 of 2 objects$/m);
    });
  }
});

// Operating a running server and a stopped one: `stead start --admin-port` serves the admin API
// (bearer tokens, read-only vs read-write), and `stead objects` reaches the objects through it,
// or through the data directory when no server holds it, without running the app's code.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { roomApp, writeFiles } from "../support/app-files.ts";
import { runStead, startStead } from "../support/stead-process.ts";
import { type TestStore, testStore } from "../support/storage.ts";

const READ_WRITE = "rw-token-for-the-admin-tests";
const READ_ONLY = "ro-token-for-the-admin-tests";

/** A chat app: each room keeps its messages in SQL and its last author in KV. */
const WORKER = `
import { DurableObject } from "cloudflare:workers";
export class Room extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, author TEXT, text TEXT)");
  }
  post(author, text) {
    this.ctx.storage.sql.exec("INSERT INTO messages (author, text) VALUES (?, ?)", author, text);
    this.ctx.storage.kv.put("last", { author, at: 1 });
    return this.ctx.storage.sql.exec("SELECT count(*) AS n FROM messages").one().n;
  }
}
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const room = env.ROOM.getByName(url.pathname.slice(1));
    return Response.json(await room.post(url.searchParams.get("author"), url.searchParams.get("text")));
  },
};
`;

function chatApp(): { path: string } & Disposable {
  return roomApp(WORKER, "stead-objects-app-");
}

function objects(args: string[], app: string, store: TestStore, env: NodeJS.ProcessEnv = {}) {
  return runStead(["objects", ...args], { cwd: app, store, env: { ...store.env, ...env } });
}

describe("stead objects and the admin API", () => {
  it("lists, inspects and queries objects of a running server, with tokens", async () => {
    using store = testStore();
    using app = chatApp();
    await using stead = await startStead(
      "start",
      [app.path, "--admin-port", "0", "--threads", "2"],
      {
        store,
        env: { ...store.env, STEAD_ADMIN_TOKEN: READ_WRITE, STEAD_ADMIN_READ_TOKEN: READ_ONLY },
      },
    );
    for (const [room, author, text] of [
      ["lobby", "ada", "hello"],
      ["lobby", "grace", "hi ada"],
      ["kitchen", "edsger", "tea?"],
    ]) {
      const response = await fetch(`${stead.url}/${room}?author=${author}&text=${text}`);
      assert.equal(response.status, 200);
    }
    const announced = JSON.parse(readFileSync(join(store.dataDir, "admin.json"), "utf8"));
    assert.match(announced.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(announced.token, undefined, "a token given by the environment is not written");

    // Without a token, or with a wrong one: 401 and nothing more.
    for (const authorization of [undefined, "Bearer wrong-token-wrong-token"]) {
      const response = await fetch(`${announced.url}/api/v1/namespaces`, {
        headers: authorization === undefined ? {} : { authorization },
      });
      assert.equal(response.status, 401);
      assert.deepEqual(await response.json(), { error: "unauthorized" });
    }

    const env = { STEAD_ADMIN_READ_TOKEN: READ_ONLY };
    const list = await objects(["list", "Room", "--json"], app.path, store, env);
    assert.equal(list.code, 0, list.stderr);
    const page = JSON.parse(list.stdout);
    assert.equal(page.total, 2);
    assert.equal(page.objects.length, 2);

    const inspect = await objects(["inspect", "Room", "lobby", "--json"], app.path, store, env);
    assert.equal(inspect.code, 0, inspect.stderr);
    const inspection = JSON.parse(inspect.stdout);
    assert.equal(inspection.name, "lobby");
    assert.deepEqual(inspection.tables, [{ name: "messages", rows: 2 }]);
    assert.equal(inspection.kv.keys, 1);
    assert.equal(inspection.kv.first[0].key, "last");
    assert.ok(inspection.databaseBytes > 0);
    assert.ok(
      Math.abs(inspection.lastActivity - Date.now()) < 60_000,
      "the room was active a moment ago",
    );

    const query = await objects(
      [
        "sql",
        "Room",
        "lobby",
        "SELECT author FROM messages WHERE text LIKE ? ORDER BY id",
        "--param",
        "%h%",
      ],
      app.path,
      store,
      env,
    );
    assert.equal(query.code, 0, query.stderr);
    assert.match(query.stdout, /^author\nada\ngrace\n2 rows; /);

    // A read-only token cannot write, and a read-only query cannot either.
    const refused = await objects(
      ["sql", "Room", "lobby", "DELETE FROM messages", "--write"],
      app.path,
      store,
      env,
    );
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /read-only/);
    const readOnlyQuery = await objects(
      ["sql", "Room", "lobby", "DELETE FROM messages"],
      app.path,
      store,
      { STEAD_ADMIN_TOKEN: READ_WRITE },
    );
    assert.equal(readOnlyQuery.code, 1);
    assert.match(readOnlyQuery.stderr, /The query writes \(DELETE FROM messages\) and was refused/);
    const failing = await objects(
      ["sql", "Room", "lobby", "SELECT * FROM nope"],
      app.path,
      store,
      env,
    );
    assert.equal(failing.code, 1);
    assert.match(failing.stderr, /no such table: nope: SQLITE_ERROR/);

    // The read-write token writes; the app sees the change.
    const written = await objects(
      ["sql", "Room", "kitchen", "UPDATE messages SET text = 'coffee?'", "--write"],
      app.path,
      store,
      { STEAD_ADMIN_TOKEN: READ_WRITE },
    );
    assert.equal(written.code, 0, written.stderr);
    assert.match(written.stdout, /1 written/);
    const after = await objects(
      ["sql", "Room", "kitchen", "SELECT text FROM messages", "--json"],
      app.path,
      store,
      env,
    );
    assert.deepEqual(JSON.parse(after.stdout).rows, [["coffee?"]]);

    const missing = await objects(["inspect", "Room", "attic"], app.path, store, env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Room has no object attic/);
    const unknown = await objects(["list", "Rooms"], app.path, store, env);
    assert.match(
      unknown.stderr,
      /No Durable Object class Rooms is recorded here\. Classes: Room\./,
    );
  });

  it("works on a data directory no server holds, running none of the app's code", async (t) => {
    using store = testStore();
    if (store.env.STEAD_STORAGE_URL !== undefined) {
      t.skip("objects in PostgreSQL are reached through a server's admin API");
      return;
    }
    using app = chatApp();
    {
      await using stead = await startStead("start", [app.path, "--threads", "0"], {
        store,
        env: store.env,
      });
      await fetch(`${stead.url}/lobby?author=ada&text=hello`);
    }
    // The app's code would throw if it ran: the tools open the data without it.
    writeFiles(app.path, { "src/index.js": "throw new Error('app code ran');" });
    const inspect = await objects(["inspect", "Room", "lobby"], app.path, store);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.match(inspect.stdout, /name\s+lobby/);
    assert.match(inspect.stdout, /messages\s+1 row/);
    const deleted = await objects(["delete", "Room", "lobby"], app.path, store);
    assert.equal(deleted.code, 1);
    assert.match(deleted.stderr, /Pass --yes to confirm/);
    const confirmed = await objects(["delete", "Room", "lobby", "--yes"], app.path, store);
    assert.equal(confirmed.code, 0, confirmed.stderr);
    const empty = await objects(["inspect", "Room", "lobby", "--json"], app.path, store);
    assert.deepEqual(JSON.parse(empty.stdout).tables, []);
    assert.equal(JSON.parse(empty.stdout).kv.keys, 0);
  });

  it("refuses an admin listener beyond this machine without a token", async () => {
    using store = testStore();
    using app = chatApp();
    const refused = await runStead(
      ["start", app.path, "--admin-port", "0", "--admin-host", "0.0.0.0", "--port", "0"],
      { store, env: store.env },
    );
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /without a token\. Set STEAD_ADMIN_TOKEN/);
  });
});

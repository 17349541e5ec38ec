import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { writeFiles } from "../support/app-files.ts";
import { feedSchema } from "../support/feed-postgres.ts";
import { runStead, startStead } from "../support/stead-process.ts";
import { testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { eventually } from "../support/wait-for.ts";

const WORKER = `
import { DurableObject } from "cloudflare:workers";
export class Cart extends DurableObject {
  async fetch(request) {
    const item = new URL(request.url).searchParams.get("item");
    this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS items (name TEXT PRIMARY KEY, n INTEGER)");
    this.ctx.storage.sql.exec("INSERT INTO items VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET n = n + 1", item);
    return new Response("ok");
  }
}
export default {
  fetch(request, env) {
    return env.CART.getByName(new URL(request.url).pathname.slice(1)).fetch(request);
  },
};
`;

function app(): { path: string } & Disposable {
  const dir = tempDataDir("stead-feed-app-");
  writeFiles(dir.path, {
    "wrangler.jsonc": JSON.stringify({
      name: "feed-app",
      main: "worker.js",
      compatibility_date: "2026-01-01",
      durable_objects: { bindings: [{ name: "CART", class_name: "Cart" }] },
      migrations: [{ tag: "v1", new_sqlite_classes: ["Cart"] }],
    }),
    "worker.js": WORKER,
  });
  return dir;
}

describe("stead start --feed", () => {
  it("ships the selected classes' commits to PostgreSQL, with its state and metrics on the admin API", async () => {
    using dir = app();
    using store = testStore();
    await using pg = await feedSchema();
    const token = randomBytes(24).toString("base64url");
    await using server = await startStead(
      "start",
      [dir.path, "--threads", "1", "--admin-port", "0", "--log-format", "json"],
      {
        store,
        env: { STEAD_FEED_CLASSES: "Cart", STEAD_FEED_SINKS: pg.url, STEAD_ADMIN_TOKEN: token },
      },
    );
    for (const item of ["apple", "apple", "pear"]) {
      assert.equal(await (await fetch(`${server.url}/ada?item=${item}`)).text(), "ok");
    }
    const rows = await eventually("the projected rows", async () => {
      const found = await pg.query<{ name: string; n: string }>(
        `SELECT name, n FROM "${pg.schema}"."Cart_items" ORDER BY name`,
      );
      return found.length === 2 && found[0]!.n === "2" ? found : undefined;
    });
    assert.deepEqual(rows, [
      { name: "apple", n: "2" },
      { name: "pear", n: "1" },
    ]);
    // Its state on the admin API, and its metrics (summed over the object threads).
    const admin = server.logs.find((log) => typeof log.adminUrl === "string")!.adminUrl as string;
    const headers = { authorization: `Bearer ${token}` };
    const status = await (await fetch(`${admin}/api/v1/feed`, { headers })).json();
    assert.equal(status.sinks.length, 1);
    assert.match(status.sinks[0].sink, /^postgres:\/\//);
    const metrics = await eventually("the feed's metrics", async () => {
      const text = await (await fetch(`${admin}/metrics`, { headers })).text();
      return /stead_feed_applied_commits_total\{[^}]*\} 3/.test(text) ? text : undefined;
    });
    assert.match(metrics, /stead_feed_lag_seconds\{[^}]*sink="postgres:[^"]*"[^}]*\} 0/);
    assert.match(metrics, /stead_feed_commit_to_applied_seconds_count\{[^}]*\} 3/);
  });

  it("refuses a feed without classes or sinks, and a class the app does not have", async () => {
    using dir = app();
    const noSink = await runStead(["start", dir.path, "--feed-classes", "Cart"]);
    assert.notEqual(noSink.code, 0);
    assert.match(noSink.stderr, /--feed-classes \/ STEAD_FEED_CLASSES needs a sink/);
    const badSink = await runStead(["start", dir.path, "--feed-classes", "Cart"], {
      env: { STEAD_FEED_SINKS: "mysql://x:secret@h/db" },
    });
    assert.match(
      badSink.stderr,
      /must be postgres:\/\/… or nats:\/\/… URLs \(got "mysql:\/\/x:\*\*\*@h\/db"\)/,
    );
    const unknown = await runStead([
      "start",
      dir.path,
      "--feed-classes",
      "Basket",
      "--feed",
      "nats://127.0.0.1:4222",
      "--port",
      "0",
    ]);
    assert.notEqual(unknown.code, 0);
    assert.match(
      unknown.stderr,
      /feed\.classes\.0: "Basket" is not a Durable Object class of this app/,
    );
  });
});

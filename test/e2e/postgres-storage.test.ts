// stead start --storage postgres://…: objects are durable in PostgreSQL, so a SIGKILL followed by
// the loss of the whole data directory loses nothing acknowledged; bad settings are refused with
// the fix, and an unreachable PostgreSQL is retried, not a crash loop.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { writeFiles } from "../support/app-files.ts";
import { TEMPLATES } from "../support/apps.ts";
import { runStead, startStead } from "../support/stead-process.ts";
import { tempSchema } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { waitFor } from "../support/wait-for.ts";

const COUNTER = join(TEMPLATES, "counter");

/** An app whose object keeps notes and hands out bookmarks, so a test can restore one over HTTP. */
const NOTES_APP = {
  "wrangler.jsonc": JSON.stringify({
    name: "notes",
    main: "src/index.ts",
    durable_objects: { bindings: [{ name: "NOTES", class_name: "Notes" }] },
    migrations: [{ tag: "v1", new_sqlite_classes: ["Notes"] }],
  }),
  "src/index.ts": `import { DurableObject } from "cloudflare:workers";
export class Notes extends DurableObject {
  async fetch(request) {
    const url = new URL(request.url);
    const sql = this.ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT)");
    if (url.pathname === "/add") sql.exec("INSERT INTO notes (text) VALUES (?)", url.searchParams.get("text"));
    let bookmark = await this.ctx.storage.getCurrentBookmark();
    if (url.pathname === "/restore") {
      bookmark = await this.ctx.storage.onNextSessionRestoreBookmark(url.searchParams.get("bookmark"));
    }
    const notes = sql.exec("SELECT text FROM notes ORDER BY id").toArray().map((row) => row.text);
    return Response.json({ notes, bookmark });
  }
}
export default { fetch: (request, env) => env.NOTES.getByName("notes").fetch(request) };
`,
};

describe("stead start --storage postgres://…", () => {
  it("keeps every acknowledged count through a SIGKILL and the loss of the data directory, objects on two threads", async () => {
    await using schema = tempSchema("e2e");
    using data = tempDataDir();
    const args = [
      COUNTER,
      "--data-dir",
      data.path,
      "--host",
      "127.0.0.1",
      "--storage",
      schema.url,
      "--threads",
      "2",
    ];
    const count = async (url: string, name: string) =>
      (await (await fetch(`${url}/${name}`, { method: "POST" })).json()).value as number;
    let acknowledged = 0;
    {
      await using stead = await startStead("start", args);
      const counts = await Promise.all(
        Array.from({ length: 40 }, (_, i) => count(stead.url, `c${i % 8}`)),
      );
      acknowledged = counts.length;
      assert.deepEqual(await stead.stop("SIGKILL"), { code: null, signal: "SIGKILL" });
    }
    rmSync(data.path, { recursive: true, force: true });
    await using again = await startStead("start", args);
    let total = 0;
    for (let i = 0; i < 8; i++) total += (await count(again.url, `c${i}`)) - 1;
    assert.equal(total, acknowledged, "every acknowledged increment survived");
  });

  it("restores a bookmark recorded before a SIGKILL and the loss of the data directory", async () => {
    await using schema = tempSchema("e2e");
    using data = tempDataDir();
    using app = tempDataDir("stead-app-");
    writeFiles(app.path, NOTES_APP);
    const args = [
      app.path,
      "--data-dir",
      data.path,
      "--host",
      "127.0.0.1",
      "--storage",
      schema.url,
    ];
    const call = async (url: string, path: string) => {
      const response = await fetch(`${url}/${path}`, { method: "POST" });
      assert.equal(response.status, 200, await response.clone().text());
      return (await response.json()) as { notes: string[]; bookmark: string };
    };
    let bookmark: string;
    {
      await using stead = await startStead("start", args);
      await call(stead.url, "add?text=one");
      ({ bookmark } = await call(stead.url, "add?text=two"));
      await call(stead.url, "add?text=three");
      await call(stead.url, `restore?bookmark=${bookmark}`);
      // Killed before the object starts again: only PostgreSQL knows of the restore.
      assert.deepEqual(await stead.stop("SIGKILL"), { code: null, signal: "SIGKILL" });
    }
    rmSync(data.path, { recursive: true, force: true });
    await using again = await startStead("start", args);
    assert.deepEqual((await call(again.url, "list")).notes, ["one", "two"]);
    assert.deepEqual((await call(again.url, "add?text=four")).notes, ["one", "two", "four"]);
  });

  it("refuses a URL that is not PostgreSQL, naming the fix and hiding the password", async () => {
    const bad = await runStead(["start", COUNTER, "--storage", "mysql://root:pw@localhost/app"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--storage \/ STEAD_STORAGE_URL must be a PostgreSQL URL/);
    assert.doesNotMatch(bad.stderr, /pw@/);
  });

  it("retries a PostgreSQL it cannot reach, naming the URL without its password", async () => {
    using data = tempDataDir();
    let stderr = "";
    const started = startStead(
      "start",
      [COUNTER, "--data-dir", data.path, "--storage", "postgres://stead:secret@127.0.0.1:9/app"],
      {
        whileStarting: async (output) => {
          await waitFor(
            () => (output.stderr().match(/retrying in \d+ ms/g) ?? []).length >= 2,
            "two retries",
          );
          stderr = output.stderr();
          throw new Error("seen enough");
        },
      },
    );
    await assert.rejects(started, /seen enough/);
    assert.match(stderr, /connecting to PostgreSQL \(retrying in 250 ms\)/);
    assert.match(stderr, /retrying in 500 ms/);
    assert.match(stderr, /postgres:\/\/stead:\*\*\*@127\.0\.0\.1:9\/app/);
    assert.doesNotMatch(stderr, /secret/);
  });
});

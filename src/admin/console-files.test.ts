import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import type { AdminOperations } from "./admin-api.ts";
import { AdminServer } from "./admin-server.ts";
import { CONSOLE_DIR, consoleFileOf } from "./console-files.ts";

/** A module's relative import, or a page's `/console/...` link. */
const REFERENCE = /(?:from |import\()"\.\/([^"]+)"|"\/console\/([^"]+)"/g;

describe("the console's files", () => {
  it("are the GET and HEAD of / and /console/*, nothing else", () => {
    assert.equal(consoleFileOf("GET", "/"), "index.html");
    assert.equal(consoleFileOf("HEAD", "/console/main.js"), "main.js");
    assert.equal(consoleFileOf("POST", "/"), undefined);
    assert.equal(consoleFileOf("GET", "/api/v1/namespaces"), undefined);
    assert.equal(consoleFileOf("GET", "/metrics"), undefined);
    assert.equal(consoleFileOf("GET", "/consoles/main.js"), undefined);
  });

  it("are all served, and every file a page or module names is one of them", async () => {
    await using server = await listening();
    const names = readdirSync(CONSOLE_DIR).filter((name) => !/^tsconfig\.json$|\.ts$/.test(name));
    const referenced = new Set<string>();
    for (const name of names) {
      const response = await fetch(`${server.url}/console/${name}`);
      assert.equal(response.status, 200, name);
      const text = await response.text();
      assert.equal(text, readFileSync(new URL(name, CONSOLE_DIR), "utf8"), name);
      for (const [, module, path] of text.matchAll(REFERENCE)) referenced.add((module ?? path)!);
    }
    assert.ok(referenced.size > 5, `found references: ${[...referenced]}`);
    for (const file of referenced) assert.ok(names.includes(file), `${file} is a console file`);
    const head = await fetch(`${server.url}/`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(await head.text(), "");
  });
});

/** An admin listener whose API is never reached: only its console files are asked for. */
async function listening(): Promise<{ url: string } & AsyncDisposable> {
  const server = await AdminServer.listen({
    host: "127.0.0.1",
    port: 0,
    tokens: { readWrite: "a-token-nobody-sends-here" },
    api: {} as AdminOperations,
  });
  return { url: server.url, [Symbol.asyncDispose]: () => server.close() };
}

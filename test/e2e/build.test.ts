// `npm run build` emits a package that runs on its own: the built CLI serves an app, with its
// objects on object threads (whose entry, like the cloudflare: modules, is found beside the
// built files, not the sources), and the admin listener serves the web console from dist/.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { startStead } from "../support/stead-process.ts";
import { TEST_STORAGE, testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const COUNTER = join(REPO, "templates", "counter");

describe("the built package", () => {
  it("serves an app from dist/ with the built CLI, objects on object threads", async () => {
    using out = tempDataDir("stead-build-");
    // The build beside the repository's dependencies, as it sits in an installed package.
    symlinkSync(join(REPO, "node_modules"), join(out.path, "node_modules"));
    const dist = join(out.path, "dist");
    const build = join(REPO, "scripts", "build.ts");
    execFileSync(process.execPath, [build, "--out-dir", dist], { stdio: "pipe" });
    const cli = join(dist, "cli", "main.js");
    assert.ok(existsSync(cli), "dist/cli/main.js was emitted");
    assert.ok(existsSync(join(dist, "index.d.ts")), "types were emitted");
    using store = testStore();
    await using stead = await startStead(
      "start",
      [
        COUNTER,
        "--host",
        "127.0.0.1",
        "--threads",
        TEST_STORAGE.capabilities.threads ? "2" : "0",
        "--admin-port",
        "0",
      ],
      { cli, store },
    );
    const count = async () => (await fetch(`${stead.url}/apples`, { method: "POST" })).json();
    assert.deepEqual(await count(), { name: "apples", value: 1 });
    assert.deepEqual(await count(), { name: "apples", value: 2 });
    // The web console's static files were copied beside the built admin listener.
    const admin = stead.logs.find((record) => typeof record.adminUrl === "string")!.adminUrl;
    const page = await fetch(`${admin}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>Stead console<\/title>/);
    const script = await fetch(`${admin}/console/main.js`);
    assert.equal(script.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.match(await script.text(), /showSignIn/);
    assert.deepEqual(await stead.stop("SIGTERM"), { code: 0, signal: null });
    assert.equal(stead.stderr(), "");
  });
});

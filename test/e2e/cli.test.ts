import assert from "node:assert/strict";
import { once } from "node:events";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runStead, startStead } from "../support/stead-process.ts";
import { skipUnless } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { waitFor } from "../support/wait-for.ts";

const COUNTER = fileURLToPath(new URL("../../templates/counter", import.meta.url));

/** A copy of an example app that a test may change. */
function copyApp(source: string): { path: string } & Disposable {
  const dir = tempDataDir("stead-app-");
  cpSync(source, dir.path, { recursive: true, filter: (path) => !path.includes(".stead") });
  return dir;
}

describe("stead CLI", () => {
  it("documents every command, flag and environment variable", async () => {
    const top = await runStead(["--help"]);
    assert.equal(top.code, 0);
    for (const text of ["dev", "start", "STEAD_DATA_DIR", "STEAD_PORT"])
      assert.match(top.stdout, new RegExp(text));
    for (const command of ["dev", "start"]) {
      const help = await runStead([command, "--help"]);
      assert.equal(help.code, 0);
      for (const flag of [
        "--port",
        "--host",
        "--data-dir",
        "--log-format",
        "--shutdown-timeout",
        "--env",
        "--hibernate-after",
        "--max-open-databases",
        "--max-connections",
      ]) {
        assert.ok(help.stdout.includes(flag), `${command} --help mentions ${flag}`);
      }
      for (const variable of [
        "STEAD_PORT",
        "STEAD_HOST",
        "STEAD_DATA_DIR",
        "STEAD_LOG_FORMAT",
        "STEAD_CONFIRM_DELETE",
        "STEAD_HIBERNATE_AFTER",
        "STEAD_MAX_OPEN_DATABASES",
        "STEAD_MAX_CONNECTIONS",
      ]) {
        assert.ok(help.stdout.includes(variable), `${command} --help mentions ${variable}`);
      }
    }
  });

  it("rejects a bad --max-open-databases, naming the flag and its range", async () => {
    const result = await runStead(["start", ".", "--max-open-databases", "0"]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /--max-open-databases \/ STEAD_MAX_OPEN_DATABASES must be an integer from 1 to 1000000, got "0"/,
    );
  });

  it("fits its open databases to a low open-file limit, and refuses a value that cannot fit", {
    skip: skipUnless("localFiles", "budgets the descriptors of the object database files"),
  }, async () => {
    const refused = await runStead(
      ["start", COUNTER, "--port", "0", "--max-open-databases", "2000"],
      { openFileLimit: 400 },
    );
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /maxOpenDatabases 2,000 needs about 6,000 open files .*may open only 400 \(ulimit -n\)\. Set --max-open-databases .* to at most 100/,
    );

    using data = tempDataDir("stead-files-");
    await using stead = await startStead("start", [COUNTER, "--data-dir", data.path], {
      openFileLimit: 400,
    });
    // Each counter twice, so all 200 are in steady use: 600 files if their databases all stayed
    // open, more than the process may have.
    for (const value of [1, 2]) {
      for (let n = 0; n < 200; n++) {
        const response = await fetch(`${stead.url}/c${n}`, { method: "POST" });
        assert.equal(response.status, 200, await response.clone().text());
        assert.equal(((await response.json()) as { value: number }).value, value);
      }
    }
  });

  it("refuses a --max-connections the open-file limit cannot hold beside the databases", {
    skip: skipUnless("localFiles", "budgets the descriptors of the object database files"),
  }, async () => {
    using data = tempDataDir("stead-files-");
    const result = await runStead(
      ["start", COUNTER, "--port", "0", "--data-dir", data.path, "--max-connections", "350"],
      { openFileLimit: 400 },
    );
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /--max-connections 350 with 66 open databases \(three files each\) needs about 548 open files, more than the 350 this process can spare of the 400 it may open \(ulimit -n\)\. Set --max-connections \/ STEAD_MAX_CONNECTIONS to at most 152/,
    );
  });

  it("explains a missing config on one screen", async () => {
    using empty = tempDataDir("stead-empty-");
    const result = await runStead(["start", empty.path, "--port", "0"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /wrangler\.jsonc/);
    assert.ok(result.stderr.split("\n").length < 25, "short enough to read at once");
  });

  it("explains an invalid config with its line and column", async () => {
    using app = copyApp(COUNTER);
    writeFileSync(join(app.path, "wrangler.jsonc"), '{\n  "name": "counter",\n  "main": \n}\n');
    const result = await runStead(["start", app.path, "--port", "0"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /wrangler\.jsonc:\d+:\d+/);
  });

  it("names a binding whose class the module does not export", async () => {
    using app = copyApp(COUNTER);
    const config = readFileSync(join(app.path, "wrangler.jsonc"), "utf8").replaceAll(
      '"Counter"',
      '"Missing"',
    );
    writeFileSync(join(app.path, "wrangler.jsonc"), config);
    const result = await runStead([
      "start",
      app.path,
      "--port",
      "0",
      "--data-dir",
      join(app.path, ".data"),
    ]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Missing/);
    assert.match(result.stderr, /Counter/, "lists the classes the module does export");
  });

  it("says when the port is taken and how to choose another", async () => {
    const blocker = createServer();
    blocker.listen(0, "127.0.0.1");
    await once(blocker, "listening");
    const { port } = blocker.address() as { port: number };
    try {
      using data = tempDataDir("stead-data-");
      const result = await runStead([
        "start",
        COUNTER,
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--data-dir",
        data.path,
      ]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`port ${port}.*already in use`));
      assert.match(result.stderr, /--port/);
    } finally {
      blocker.close();
    }
  });

  it("rejects bad flag values clearly", async () => {
    const result = await runStead(["start", COUNTER, "--port", "http"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /--port/);
  });

  it("dev reloads the app when a file changes, keeping its data", async () => {
    using app = copyApp(COUNTER);
    const source = join(app.path, "src", "index.ts");
    await using dev = await startStead("dev", [app.path]);
    assert.equal((await (await fetch(`${dev.url}/a`, { method: "POST" })).json()).value, 1);
    writeFileSync(
      source,
      readFileSync(source, "utf8").replace(
        "return Response.json({ name, value });",
        "return Response.json({ name, value, reloaded: true });",
      ),
    );
    await waitFor(
      async () => {
        try {
          const body = await (await fetch(`${dev.url}/a`)).json();
          return body.reloaded === true && body.value === 1;
        } catch {
          return false;
        }
      },
      "the reloaded app to answer with the data kept",
      15_000,
    );
    const { code } = await dev.stop("SIGINT");
    assert.equal(code, 0);
  });

  it("dev's app process exits when dev itself is killed", async () => {
    using app = copyApp(COUNTER);
    const dev = await startStead("dev", [app.path]);
    assert.equal((await fetch(`${dev.url}/a`)).status, 200);
    await dev.stop("SIGKILL");
    await waitFor(
      () =>
        fetch(`${dev.url}/a`).then(
          () => false,
          () => true,
        ),
      "the app process to stop serving",
    );
  });
});

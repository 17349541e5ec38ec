// `stead start` and `stead dev` build real apps as wrangler does: the fixture apps under
// test/fixtures/apps, an entry given on the command line, a JavaScript app without a
// package.json, and a build error.
import assert from "node:assert/strict";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runStead, startStead } from "../support/stead-process.ts";
import { TEST_STORAGE, testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { eventually } from "../support/wait-for.ts";

const APPS = fileURLToPath(new URL("../fixtures/apps/", import.meta.url));
const ITTY = join(APPS, "itty-app");

async function get(url: string): Promise<string> {
  const response = await fetch(url);
  return response.text();
}

describe("stead start: building apps", () => {
  it("serves the Hono app, with module rules, define and alias, and source-mapped stacks", async () => {
    using store = testStore("stead-data-");
    const threads = TEST_STORAGE.capabilities.threads ? "1" : "0";
    await using stead = await startStead("start", [join(APPS, "hono-app"), "--threads", threads], {
      store,
    });
    assert.equal(await get(`${stead.url}/`), "hello hono");
    assert.match(await get(`${stead.url}/page`), /<h1>Hello from HTML<\/h1>/);
    assert.equal(await get(`${stead.url}/notes`), "plain text module\n");
    assert.deepEqual(JSON.parse(await get(`${stead.url}/wasm`)), { isModule: true, sum: 5 });
    assert.equal(await get(`${stead.url}/define`), "1.2.3");
    assert.equal(await get(`${stead.url}/alias`), "from the alias");
    const posted = await fetch(`${stead.url}/notes/room`, { method: "POST", body: "n1" });
    assert.deepEqual(await posted.json(), [{ text: "n1" }]);
    assert.match(await get(`${stead.url}/boom`), /src\/lib\/explode\.ts:3:9/);
  });

  it("takes the entry as the first argument, finding the config above it", async () => {
    using store = testStore("stead-data-");
    await using stead = await startStead(
      "start",
      [join(ITTY, "src", "worker.ts"), "--threads", "0"],
      { store },
    );
    assert.deepEqual(JSON.parse(await get(`${stead.url}/count/a`)), { name: "a", count: 1 });
  });

  it("takes the entry from --main, for a config without main", async () => {
    using store = testStore("stead-data-");
    const args = [ITTY, "--threads", "0"];
    await using stead = await startStead(
      "start",
      [...args, "--main", join(ITTY, "src/worker.ts")],
      { store },
    );
    assert.deepEqual(JSON.parse(await get(`${stead.url}/count/b`)), { name: "b", count: 1 });

    using other = tempDataDir("stead-data-");
    const without = await runStead(["start", ITTY, "--data-dir", other.path, "--port", "0"]);
    assert.equal(without.code, 1);
    assert.match(without.stderr, /main: is required/);
    assert.match(without.stderr, /--main src\/index\.ts/);
  });

  it("runs a JavaScript app without a package.json, and Node prints no warning", async () => {
    using app = tempDataDir("stead-app-");
    cpSync(join(APPS, "plain-js"), app.path, { recursive: true });
    using store = testStore();
    await using stead = await startStead("start", [app.path, "--threads", "0"], { store });
    assert.equal(await get(`${stead.url}/`), "visits: 1");
    const { code } = await stead.stop();
    assert.equal(code, 0);
    assert.equal(stead.stderr(), "", "nothing on stderr (MODULE_TYPELESS_PACKAGE_JSON or else)");
  });

  it("serves what a Vite-style build generated, named by .wrangler/deploy/config.json", async () => {
    using app = tempDataDir("stead-app-");
    // The user's config, whose assets directory the build does not fill.
    mkdirSync(join(app.path, "public"));
    writeFileSync(
      join(app.path, "wrangler.jsonc"),
      '{ "name": "site", "main": "src/index.ts", "assets": { "directory": "public" } }',
    );
    // What the build wrote: the server bundle and its config beside the client files.
    const server = join(app.path, "dist", "site");
    mkdirSync(server, { recursive: true });
    mkdirSync(join(app.path, "dist", "client"));
    writeFileSync(join(app.path, "dist", "client", "index.html"), "<h1>built page</h1>");
    writeFileSync(
      join(server, "index.js"),
      'export default { fetch: () => new Response("from the built worker") };\n',
    );
    writeFileSync(
      join(server, "wrangler.json"),
      JSON.stringify({
        name: "site",
        main: "index.js",
        assets: { directory: "../client" },
        configPath: join(app.path, "wrangler.jsonc"),
        userConfigPath: join(app.path, "wrangler.jsonc"),
        topLevelName: "site",
        definedEnvironments: [],
        triggers: {},
        workflows: [],
        no_bundle: true,
      }),
    );
    mkdirSync(join(app.path, ".wrangler", "deploy"), { recursive: true });
    writeFileSync(
      join(app.path, ".wrangler", "deploy", "config.json"),
      JSON.stringify({ configPath: "../../dist/site/wrangler.json" }),
    );
    using store = testStore();
    await using stead = await startStead("start", [app.path, "--threads", "0"], { store });
    assert.match(await get(`${stead.url}/`), /built page/);
    assert.equal(await get(`${stead.url}/api`), "from the built worker");
    // The server's own files are not assets.
    assert.equal(await get(`${stead.url}/site/wrangler.json`), "from the built worker");
    assert.ok(
      stead.logs.some((log) => String(log.msg).includes("the config the app's build generated")),
    );
    // Wrangler's bookkeeping keys and the empty ones it writes say nothing.
    assert.doesNotMatch(stead.stderr(), /not a wrangler config key|is not supported by Stead/);
  });

  it("gives the Worker the secrets its config requires from the environment", async () => {
    using app = tempDataDir("stead-app-");
    writeFileSync(
      join(app.path, "wrangler.jsonc"),
      '{ "main": "index.js", "secrets": { "required": ["API_KEY", "DB_PASSWORD"] } }',
    );
    writeFileSync(join(app.path, "package.json"), '{ "type": "module" }');
    writeFileSync(
      join(app.path, "index.js"),
      "export default { fetch: (_, env) => Response.json([env.API_KEY ?? null, env.DB_PASSWORD ?? null, env.PATH ?? null]) };\n",
    );
    using store = testStore();
    await using stead = await startStead("start", [app.path, "--threads", "0"], {
      store,
      env: { API_KEY: "k-123" },
    });
    assert.deepEqual(JSON.parse(await get(`${stead.url}/`)), ["k-123", null, null]);
    assert.match(
      stead.stderr(),
      /secrets\.required: DB_PASSWORD is not set, so env\.DB_PASSWORD will be undefined/,
    );
  });

  it("fails to start on a build error, showing where and the imports that led there", async () => {
    using app = tempDataDir("stead-app-");
    mkdirSync(join(app.path, "src"));
    writeFileSync(join(app.path, "wrangler.jsonc"), '{ "main": "src/index.ts" }');
    writeFileSync(
      join(app.path, "src/index.ts"),
      'import { x } from "./x";\nexport default { fetch: () => new Response(x) };\n',
    );
    writeFileSync(join(app.path, "src/x.ts"), "export const x = ;\n");
    const result = await runStead(["start", app.path, "--port", "0", "--threads", "0"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /BUILD_FAILED|Could not build the app from src\/index\.ts/);
    assert.match(result.stderr, /src\/x\.ts:1:18: Unexpected ";"/);
    assert.match(result.stderr, /imported by src\/index\.ts/);
  });
});

describe("stead dev: building apps", () => {
  it("rebuilds the app when a file changes", async () => {
    using app = tempDataDir("stead-app-");
    cpSync(join(APPS, "plain-js"), app.path, { recursive: true });
    await using stead = await startStead("dev", [app.path, "--threads", "0"]);
    assert.equal(await get(`${stead.url}/`), "visits: 1");
    writeFileSync(join(app.path, "src/label.js"), 'export const label = "changed:";\n');
    const changed = await eventually(
      "the rebuilt app serves the changed module",
      async () => {
        const body = await get(`${stead.url}/`);
        return body.startsWith("changed:") ? body : undefined;
      },
      { timeoutMs: 10_000 },
    );
    assert.match(changed, /^changed: \d+$/);
  });
});

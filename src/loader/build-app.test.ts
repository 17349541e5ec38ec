// Apps built as wrangler builds them, loaded through createRuntime: the fixture apps under
// test/fixtures/apps, and small apps written into temp directories for the failure cases.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { tempDataDir } from "../../test/support/temp-dir.ts";
import { loadAppConfig } from "../config/index.ts";
import { SteadError } from "../core/errors.ts";
import { createRuntime } from "../embedded/create-runtime.ts";
import type { ResolvedRuntimeOptions } from "../embedded/runtime-options.ts";

const APPS = fileURLToPath(new URL("../../test/fixtures/apps/", import.meta.url));

/** A directory holding `files` (path -> text), removed on dispose. */
function appDir(files: Record<string, string>): { dir: string } & Disposable {
  const temp = tempDataDir("stead-build-test-");
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(temp.path, name)), { recursive: true });
    writeFileSync(join(temp.path, name), text);
  }
  return { dir: temp.path, [Symbol.dispose]: () => temp[Symbol.dispose]() };
}

async function text(runtime: { fetch(url: string): Promise<Response> }, path: string) {
  const response = await runtime.fetch(`http://app.test${path}`);
  return response.text();
}

/** Asserts that starting a runtime on `options` fails with BUILD_FAILED naming every part. */
async function assertBuildFails(options: ResolvedRuntimeOptions, parts: string[]): Promise<void> {
  await assert.rejects(createRuntime(options), (error: unknown) => {
    assert.ok(error instanceof SteadError, String(error));
    assert.equal(error.code, "BUILD_FAILED", error.message);
    for (const part of parts) {
      assert.ok(error.message.includes(part), `expected "${part}" in:\n${error.message}`);
    }
    return true;
  });
}

describe("building apps: the Hono fixture", () => {
  it("serves an app using tsconfig paths, a type import without `import type`, module rules, define and alias", async () => {
    const config = await loadAppConfig(join(APPS, "hono-app"));
    await using rt = await createRuntime({ ...config.runtimeOptions });
    assert.equal(await text(rt, "/"), "hello hono");
    assert.equal(
      await text(rt, "/page"),
      "<!doctype html><title>hono-app</title><h1>Hello from HTML</h1>\n",
    );
    assert.equal(await text(rt, "/notes"), "plain text module\n");
    assert.deepEqual(JSON.parse(await text(rt, "/wasm")), { isModule: true, sum: 5 });
    assert.deepEqual(JSON.parse(await text(rt, "/blob")), {
      isArrayBuffer: true,
      bytes: [0, 1, 2, 255],
    });
    assert.equal(await text(rt, "/define"), "1.2.3");
    assert.equal(await text(rt, "/alias"), "from the alias");
    const posted = await rt.fetch("http://app.test/notes/a", { method: "POST", body: "hi" });
    assert.deepEqual(await posted.json(), [{ text: "hi" }]);
  });

  it("names the app's own file and line in stack traces", async () => {
    const config = await loadAppConfig(join(APPS, "hono-app"));
    await using rt = await createRuntime({ ...config.runtimeOptions });
    const stack = await text(rt, "/boom");
    assert.match(
      stack,
      /^Error: exploded on purpose\n\s+at explode \(.*src\/lib\/explode\.ts:3:9\)/,
    );
    assert.match(stack, /src\/index\.ts:\d+/);
  });

  it("gives each runtime its own build of the app, served to object threads too", async () => {
    const config = await loadAppConfig(join(APPS, "hono-app"));
    await using threaded = await createRuntime({ ...config.runtimeOptions, threads: 1 });
    const posted = await threaded.fetch("http://app.test/notes/t", { method: "POST", body: "x" });
    assert.deepEqual(await posted.json(), [{ text: "x" }]);
    await using again = await createRuntime({ ...config.runtimeOptions });
    assert.equal(await text(again, "/define"), "1.2.3");
  });
});

describe("building apps: entries and module rules", () => {
  it("builds an entry given instead of the config's main (an itty-router app)", async () => {
    const dir = join(APPS, "itty-app");
    const config = await loadAppConfig(dir, { main: join(dir, "src/worker.ts") });
    await using rt = await createRuntime({ ...config.runtimeOptions });
    assert.deepEqual(JSON.parse(await text(rt, "/count/a")), { name: "a", count: 1 });
    assert.deepEqual(JSON.parse(await text(rt, "/count/a")), { name: "a", count: 2 });
  });

  it("imports Node built-ins by bare name under nodejs_compat, and explains the flag otherwise", async () => {
    using app = appDir({
      "index.js": `import { createHash } from "crypto";\nimport { Buffer } from "node:buffer";\nexport default { fetch: () => new Response(createHash("sha1").update(Buffer.from("a")).digest("hex")) };\n`,
    });
    const main = join(app.dir, "index.js");
    await using rt = await createRuntime({ main, compatibilityFlags: ["nodejs_compat"] });
    assert.equal(await text(rt, "/"), "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8");
    await assertBuildFails({ main, cwd: app.dir }, [
      'index.js:1:28: Could not resolve "crypto"',
      '"crypto" is a Node built-in: import it as "node:crypto", or add "nodejs_compat" to compatibility_flags',
    ]);
  });

  it("applies the config's rules before the defaults, and refuses a file only a shadowed rule matches", async () => {
    using app = appDir({
      "index.ts": `import md from "./readme.md";\nimport html from "./page.html";\nexport default { fetch: () => new Response(md + html) };\n`,
      "readme.md": "# md",
      "page.html": "<p>",
    });
    const main = join(app.dir, "index.ts");
    await using rt = await createRuntime({
      main,
      build: { rules: [{ type: "Text", globs: ["**/*.md"], fallthrough: true }] },
    });
    assert.equal(await text(rt, "/"), "# md<p>");
    await assertBuildFails(
      { main, cwd: app.dir, build: { rules: [{ type: "Text", globs: ["**/*.md"] }] } },
      ["index.ts:2:18: ./page.html matches the module rule", "Add fallthrough = true to that rule"],
    );
  });

  it("keeps Stead itself external: the app's DurableObject is the runtime's", async () => {
    using app = appDir({
      "index.ts": `import { DurableObject as FromStead } from "stead";\nimport { DurableObject } from "cloudflare:workers";\nexport default { fetch: () => new Response(String(FromStead === DurableObject)) };\n`,
    });
    await using rt = await createRuntime({ main: join(app.dir, "index.ts") });
    assert.equal(await text(rt, "/"), "true");
  });
});

describe("building apps: errors", () => {
  it("shows file:line:column, the source line and the chain of imports", async () => {
    using app = appDir({
      "src/index.ts": `import { a } from "./lib/a";\nexport default { fetch: () => new Response(a) };\n`,
      "src/lib/a.ts": `import { b } from "./b";\nexport const a = b;\n`,
      "src/lib/b.ts": `// broken\nexport const b = "x" +;\n`,
    });
    await assertBuildFails({ main: join(app.dir, "src/index.ts"), cwd: app.dir }, [
      "Could not build the app from src/index.ts (1 error):",
      'src/lib/b.ts:2:23: Unexpected ";"',
      '    2 | export const b = "x" +;',
      "  imported by src/lib/a.ts\n  imported by src/index.ts",
    ]);
  });

  it("names an import that does not resolve, where it is", async () => {
    using app = appDir({
      "src/index.ts": `import { a } from "./lib/a";\nexport default { fetch: () => new Response(a) };\n`,
      "src/lib/a.ts": `export { a } from "./missing";\n`,
    });
    await assertBuildFails({ main: join(app.dir, "src/index.ts"), cwd: app.dir }, [
      'src/lib/a.ts:1:19: Could not resolve "./missing"',
      "  imported by src/index.ts",
    ]);
  });
});

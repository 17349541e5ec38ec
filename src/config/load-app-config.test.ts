// loadAppConfig on real files in temp directories: discovery, the three formats, validation
// messages that name the file and the option path, environments, .dev.vars and the delete
// confirmation variable.
import assert from "node:assert/strict";
import { mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { tempDataDir } from "../../test/support/temp-dir.ts";
import { type AppConfig, loadAppConfig } from "./index.ts";

/** An app directory holding `files` (path -> text) plus src/index.ts, removed on dispose. */
function app(files: Record<string, string>): { dir: string } & Disposable {
  const temp = tempDataDir("stead-config-");
  const dir = temp.path;
  mkdirSync(join(dir, "src"));
  writeFileSync(join(dir, "src", "index.ts"), "export default {};\n");
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return { dir, [Symbol.dispose]: () => temp[Symbol.dispose]() };
}

/** Asserts that loading fails with `code` and a message containing every part. */
async function assertFails(
  dir: string,
  code: string,
  parts: string[],
  options?: Parameters<typeof loadAppConfig>[1],
): Promise<string> {
  let message = "";
  await assert.rejects(loadAppConfig(dir, options), (error: any) => {
    assert.equal(error.code, code, error.message);
    message = error.message;
    return true;
  });
  for (const part of parts) assert.ok(message.includes(part), `expected "${part}" in:\n${message}`);
  assert.ok(message.split("\n").length <= 10, `one screen:\n${message}`);
  return message;
}

const JSONC = `// wrangler.jsonc as Cloudflare's templates write it
{
  "$schema": "node_modules/wrangler/config-schema.json",
  "name": "chat",
  "main": "src/index.ts",
  "compatibility_date": "2026-02-24",
  "compatibility_flags": ["nodejs_compat"],
  "observability": { "enabled": true },
  "routes": [{ "pattern": "chat.example.com", "custom_domain": true }],
  "r2_buckets": [{ "binding": "UPLOADS", "bucket_name": "abc" }],
  /* Durable Objects */
  "durable_objects": {
    "bindings": [
      { "name": "ROOMS", "class_name": "ChatRoom" },
      { "name": "LIMITER", "class_name": "RateLimiter", "script_name": "chat" },
    ],
  },
  "migrations": [
    { "tag": "v1", "new_sqlite_classes": ["ChatRoom"] },
    { "tag": "v2", "new_classes": ["RateLimiter"], "renamed_classes": [{ "from": "A", "to": "B" }] },
  ],
  "vars": { "GREETING": "hello", "LIMITS": { "perMinute": 10 } },
}
`;

const TOML = `name = "chat"
main = "src/index.ts"
compatibility_date = 2026-02-24
compatibility_flags = ["nodejs_compat"]
routes = [{ pattern = "chat.example.com", custom_domain = true }]

[observability]
enabled = true

[[durable_objects.bindings]]
name = "ROOMS"
class_name = "ChatRoom"

[[durable_objects.bindings]]
name = "LIMITER"
class_name = "RateLimiter"
script_name = "chat"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["ChatRoom"]

[[migrations]]
tag = "v2"
new_classes = ["RateLimiter"]
renamed_classes = [{ from = "A", to = "B" }]

[vars]
GREETING = "hello"
LIMITS = { perMinute = 10 }
`;

function expectedOptions(dir: string, configPath: string, r2 = false) {
  return {
    ...(r2 ? { r2_buckets: [{ binding: "UPLOADS", bucket_name: "abc" }] } : {}),
    main: join(dir, "src", "index.ts"),
    cwd: dir,
    build: { nodeEnv: "production" },
    compatibilityFlags: ["nodejs_compat"],
    durableObjects: { ROOMS: "ChatRoom", LIMITER: "RateLimiter" },
    vars: { GREETING: "hello", LIMITS: { perMinute: 10 } },
    configPath,
    compatibilityDate: "2026-02-24",
    migrations: [
      { tag: "v1", new_sqlite_classes: ["ChatRoom"] },
      { tag: "v2", new_classes: ["RateLimiter"], renamed_classes: [{ from: "A", to: "B" }] },
    ],
  };
}

describe("loadAppConfig: formats", () => {
  for (const [file, text] of [
    ["wrangler.jsonc", JSONC],
    ["wrangler.json", JSONC],
    ["wrangler.toml", TOML],
  ] as const) {
    it(`reads ${file}, ignoring keys Stead does not use`, async () => {
      using a = app({ [file]: text });
      const config = await loadAppConfig(a.dir, { processEnv: {} });
      const configPath = join(a.dir, file);
      assert.equal(config.configPath, configPath);
      assert.equal(config.name, "chat");
      assert.deepEqual(config.ignoredConfigPaths, []);
      assert.deepEqual(
        { ...config.runtimeOptions },
        expectedOptions(a.dir, configPath, file !== "wrangler.toml"),
      );
      assert.ok(Object.isFrozen(config) && Object.isFrozen(config.runtimeOptions.vars));
    });
  }

  it("prefers wrangler.json, then wrangler.jsonc, then wrangler.toml, as wrangler does", async () => {
    using a = app({ "wrangler.toml": TOML, "wrangler.json": JSONC, "wrangler.jsonc": JSONC });
    const config = await loadAppConfig(a.dir);
    assert.equal(config.configPath, join(a.dir, "wrangler.json"));
    assert.equal(config.redirectedFrom, undefined);
    assert.deepEqual(config.ignoredConfigPaths, [
      join(a.dir, "wrangler.jsonc"),
      join(a.dir, "wrangler.toml"),
    ]);
    using b = app({ "wrangler.toml": TOML, "wrangler.jsonc": JSONC });
    assert.equal((await loadAppConfig(b.dir)).configPath, join(b.dir, "wrangler.jsonc"));
  });

  it("reads the config a build generated when .wrangler/deploy/config.json names it", async () => {
    using a = app({ "wrangler.jsonc": JSONC });
    const generated = join(a.dir, "dist", "chat");
    mkdirSync(join(generated, "src"), { recursive: true });
    writeFileSync(join(generated, "src", "index.ts"), "export default {};\n");
    writeFileSync(
      join(generated, "wrangler.json"),
      JSON.stringify({
        name: "chat-built",
        main: "src/index.ts",
        configPath: join(a.dir, "wrangler.jsonc"),
        userConfigPath: join(a.dir, "wrangler.jsonc"),
        topLevelName: "chat-built",
        definedEnvironments: [],
        workflows: [],
        triggers: {},
        unsafe: { bindings: [] },
        ai_search_namespaces: [],
        no_bundle: false,
      }),
    );
    const deployConfig = join(a.dir, ".wrangler", "deploy", "config.json");
    mkdirSync(join(a.dir, ".wrangler", "deploy"), { recursive: true });
    writeFileSync(deployConfig, JSON.stringify({ configPath: "../../dist/chat/wrangler.json" }));
    // Older than the user's config: the build ran after the last edit.
    utimesSync(join(generated, "wrangler.json"), new Date(), new Date(Date.now() + 60_000));
    const config = await loadAppConfig(a.dir);
    assert.equal(config.configPath, join(generated, "wrangler.json"));
    assert.equal(config.redirectedFrom, deployConfig);
    assert.equal(config.name, "chat-built");
    assert.equal(config.runtimeOptions.main, join(generated, "src", "index.ts"));
    // Wrangler's bookkeeping and empty keys say nothing.
    assert.deepEqual(config.warnings, []);
    // `stead d1 migrations` reads the user's own config, as wrangler d1 does.
    const own = await loadAppConfig(a.dir, { followRedirect: false });
    assert.equal(own.configPath, join(a.dir, "wrangler.jsonc"));
    // A user config edited after the build: the generated one is stale, and that is said.
    utimesSync(join(generated, "wrangler.json"), new Date(), new Date(Date.now() - 60_000));
    const stale = await loadAppConfig(a.dir);
    assert.deepEqual(stale.warnings, [
      `${join(a.dir, "wrangler.jsonc")} changed after the build wrote ${join(generated, "wrangler.json")}, which is the config read (named by ${deployConfig}). Run the app's build again, or delete that file to read ${join(a.dir, "wrangler.jsonc")}.`,
    ]);
    // A redirect to nothing, or without configPath, names the file and the fix.
    writeFileSync(deployConfig, JSON.stringify({ configPath: "../../dist/gone/wrangler.json" }));
    await assertFails(a.dir, "CONFIG_NOT_FOUND", [
      `${deployConfig}: configPath names ${join(a.dir, "dist", "gone", "wrangler.json")}, which does not exist.`,
      "Run the app's build again",
    ]);
    writeFileSync(deployConfig, "{}");
    await assertFails(a.dir, "INVALID_CONFIG", [`${deployConfig}: configPath: expected the path`]);
  });

  it("a directory without a config, or no directory, is CONFIG_NOT_FOUND", async () => {
    using a = app({});
    await assertFails(a.dir, "CONFIG_NOT_FOUND", [
      `No wrangler.jsonc, wrangler.json or wrangler.toml in ${a.dir}.`,
      'create a wrangler.jsonc with at least "main"',
    ]);
    await assertFails(join(a.dir, "nope"), "CONFIG_NOT_FOUND", [
      `The app directory ${join(a.dir, "nope")} does not exist.`,
    ]);
  });
});

describe("loadAppConfig: syntax errors name file:line:column and show the line", () => {
  it("JSONC", async () => {
    using a = app({ "wrangler.jsonc": '{\n  "main": "src/index.ts",\n  "vars": { "A": }\n}\n' });
    const message = await assertFails(a.dir, "INVALID_CONFIG", [
      `${join(a.dir, "wrangler.jsonc")}:3:18: wrangler.jsonc is not valid JSONC: value expected.`,
      '   3 |   "vars": { "A": }',
      "Fix the syntax there (comments and trailing commas are allowed).",
    ]);
    assert.match(message, /\n {5}\| {18}\^\n/, "a caret under column 18");
  });

  it("JSON is read as JSONC, as wrangler does", async () => {
    using a = app({ "wrangler.json": '// comment\n{ "main": "src/index.ts", }' });
    assert.equal((await loadAppConfig(a.dir)).runtimeOptions.main, join(a.dir, "src/index.ts"));
    using b = app({ "wrangler.json": '{ "main": "src/index.ts" "name": "x" }' });
    await assertFails(b.dir, "INVALID_CONFIG", [
      `${join(b.dir, "wrangler.json")}:1:26: wrangler.json is not valid JSONC: comma expected.`,
    ]);
  });

  it("TOML", async () => {
    using a = app({ "wrangler.toml": 'main = "src/index.ts"\n[vars]\nA = "unterminated\n' });
    await assertFails(a.dir, "INVALID_CONFIG", [
      `${join(a.dir, "wrangler.toml")}:3:`,
      "wrangler.toml is not valid TOML:",
      'A = "unterminated',
      "Fix the syntax there.",
    ]);
  });
});

describe("loadAppConfig: validation names the file and the option path", () => {
  it("wrong types, in every format", async () => {
    const jsonc =
      '{ "main": "src/index.ts", "durable_objects": { "bindings": [{ "name": "A", "class_name": 1 }] } }';
    const toml =
      'main = "src/index.ts"\n[[durable_objects.bindings]]\nname = "A"\nclass_name = 1\n';
    for (const [file, text] of [
      ["wrangler.jsonc", jsonc],
      ["wrangler.json", jsonc],
      ["wrangler.toml", toml],
    ] as const) {
      using a = app({ [file]: text });
      await assertFails(a.dir, "INVALID_CONFIG", [
        `${join(a.dir, file)}: durable_objects.bindings[0].class_name: expected a string, got number 1`,
      ]);
    }
  });

  it("lists every problem, one line each", async () => {
    using a = app({
      "wrangler.jsonc": JSON.stringify({
        main: "src/index.ts",
        compatibility_date: "tomorrow",
        vars: [],
        durable_objects: { bindings: [{ name: "my-binding", class_name: "Room" }, { name: "B" }] },
        migrations: [
          { tag: "v1", new_sqlite_class: ["Room"] },
          { tag: "v2", renamed_classes: [{ from: "A", too: "B" }] },
        ],
      }),
    });
    const path = join(a.dir, "wrangler.jsonc");
    const message = await assertFails(a.dir, "INVALID_CONFIG", [
      `${path}: compatibility_date: must be a date like "2026-02-24", got "tomorrow"`,
      `${path}: vars: expected an object, got an array`,
      `${path}: durable_objects.bindings[0].name: must be a JavaScript identifier, like CHAT_ROOM, got "my-binding"`,
      `${path}: durable_objects.bindings[1].class_name: is required`,
      `${path}: migrations[0]: unknown key "new_sqlite_class" (expected: tag, new_sqlite_classes, new_classes, renamed_classes, deleted_classes, transferred_classes)`,
      `${path}: migrations[1].renamed_classes[0].to: is required`,
      `${path}: migrations[1].renamed_classes[0]: unknown key "too" (expected: from, to)`,
    ]);
    assert.equal(message.split("\n").length, 7);
  });

  it("migration tags are unique", async () => {
    using a = app({
      "wrangler.toml":
        'main = "src/index.ts"\n[[migrations]]\ntag = "v1"\n[[migrations]]\ntag = "v1"\n',
    });
    await assertFails(a.dir, "INVALID_CONFIG", [
      `${join(a.dir, "wrangler.toml")}: migrations[1].tag: "v1" is also the tag of migrations[0]; tags must be unique`,
    ]);
  });

  it("the top level must be an object", async () => {
    using a = app({ "wrangler.jsonc": "[]" });
    await assertFails(a.dir, "INVALID_CONFIG", [
      `${join(a.dir, "wrangler.jsonc")}: expected an object at the top level`,
    ]);
  });

  it("main is required and must exist, resolved from the config's directory", async () => {
    using a = app({ "wrangler.jsonc": '{ "name": "x" }' });
    await assertFails(a.dir, "INVALID_CONFIG", [
      `${join(a.dir, "wrangler.jsonc")}: main: is required: the Worker's entry module, relative to the config file, e.g. "main": "src/index.ts".`,
    ]);
    using b = app({ "wrangler.toml": 'main = "src/missing.ts"' });
    await assertFails(b.dir, "INVALID_CONFIG", [
      `${join(b.dir, "wrangler.toml")}: main: the entry module ${join(b.dir, "src/missing.ts")} does not exist. Fix "main"`,
    ]);
  });

  it("bindings: another Worker's class is not supported, a name may be used once", async () => {
    const config = (bindings: unknown[]) =>
      JSON.stringify({ name: "me", main: "src/index.ts", durable_objects: { bindings } });
    using a = app({
      "wrangler.jsonc": config([{ name: "EXT", class_name: "Other", script_name: "other-worker" }]),
    });
    await assertFails(a.dir, "CONFIG_UNSUPPORTED", [
      `${join(a.dir, "wrangler.jsonc")}: durable_objects.bindings[0] (EXT): script_name "other-worker" binds a class of another Worker, which is not supported yet`,
      "Remove script_name to bind a class this Worker exports.",
    ]);
    using b = app({
      "wrangler.jsonc": config([
        { name: "A", class_name: "Room" },
        { name: "A", class_name: "Hall" },
      ]),
    });
    await assertFails(b.dir, "INVALID_CONFIG", [
      `${join(b.dir, "wrangler.jsonc")}: durable_objects.bindings[1].name: the binding name A is used twice.`,
    ]);
  });
});

describe("loadAppConfig: environments, .dev.vars, delete confirmation", () => {
  const WITH_ENVS = JSON.stringify({
    name: "chat",
    main: "src/index.ts",
    compatibility_date: "2026-01-01",
    vars: { LEVEL: "top" },
    durable_objects: { bindings: [{ name: "ROOMS", class_name: "ChatRoom" }] },
    migrations: [{ tag: "v1", new_sqlite_classes: ["ChatRoom"] }],
    env: {
      staging: { vars: { LEVEL: "staging" } },
      other: {
        name: "custom",
        compatibility_date: "2026-02-24",
        durable_objects: { bindings: [{ name: "R", class_name: "ChatRoom" }] },
        migrations: [{ tag: "e1", new_classes: ["ChatRoom"] }],
      },
    },
  });

  it("an environment inherits main, name, compatibility_date and migrations, not vars or bindings", async () => {
    using a = app({ "wrangler.jsonc": WITH_ENVS });
    const staging = await loadAppConfig(a.dir, { env: "staging" });
    assert.equal(staging.name, "chat-staging");
    assert.equal(staging.env, "staging");
    assert.deepEqual(staging.runtimeOptions.vars, { LEVEL: "staging" });
    assert.deepEqual(staging.runtimeOptions.durableObjects, {});
    assert.equal(staging.runtimeOptions.compatibilityDate, "2026-01-01");
    assert.deepEqual(staging.runtimeOptions.migrations, [
      { tag: "v1", new_sqlite_classes: ["ChatRoom"] },
    ]);

    const other = await loadAppConfig(a.dir, { env: "other" });
    assert.equal(other.name, "custom");
    assert.deepEqual(other.runtimeOptions.vars, {});
    assert.deepEqual(other.runtimeOptions.durableObjects, { R: "ChatRoom" });
    assert.equal(other.runtimeOptions.compatibilityDate, "2026-02-24");
    assert.deepEqual(other.runtimeOptions.migrations, [{ tag: "e1", new_classes: ["ChatRoom"] }]);

    await assertFails(
      a.dir,
      "INVALID_CONFIG",
      ['env.prod: there is no environment "prod" (defined: staging, other).'],
      {
        env: "prod",
      },
    );
  });

  it(".dev.vars (or .dev.vars.<env>) is merged over vars in dev only, and its names are secret", async () => {
    using a = app({
      "wrangler.jsonc": WITH_ENVS,
      ".dev.vars": '# local secrets\nLEVEL=dev\nAPI_KEY="s3cr3t"\n',
      ".dev.vars.staging": "TOKEN=staging-token\n",
    });
    const prod: AppConfig = await loadAppConfig(a.dir);
    assert.deepEqual(prod.runtimeOptions.vars, { LEVEL: "top" });
    assert.deepEqual(prod.secretNames, []);

    const dev = await loadAppConfig(a.dir, { dev: true });
    assert.deepEqual(dev.runtimeOptions.vars, { LEVEL: "dev", API_KEY: "s3cr3t" });
    assert.deepEqual([...dev.secretNames].sort(), ["API_KEY", "LEVEL"]);

    const staging = await loadAppConfig(a.dir, { dev: true, env: "staging" });
    assert.deepEqual(staging.runtimeOptions.vars, { LEVEL: "staging", TOKEN: "staging-token" });
  });

  it("secrets.required: exactly those names, from .dev.vars in dev and the environment otherwise", async () => {
    using a = app({
      "wrangler.jsonc": `{ "main": "src/index.ts", "vars": { "LEVEL": "top" },
        "secrets": { "required": ["API_KEY", "DB_PASSWORD"] } }`,
      ".dev.vars": 'API_KEY="from-dev-vars"\nOTHER=left-out\n',
    });
    const file = join(a.dir, "wrangler.jsonc");
    const dev = await loadAppConfig(a.dir, { dev: true, processEnv: { DB_PASSWORD: "pw" } });
    assert.deepEqual(dev.runtimeOptions.vars, {
      LEVEL: "top",
      API_KEY: "from-dev-vars",
      DB_PASSWORD: "pw",
    });
    assert.deepEqual([...dev.secretNames].sort(), ["API_KEY", "DB_PASSWORD"]);
    assert.deepEqual(dev.warnings, []);
    // stead start: the environment only, and what is missing is named with the fix.
    const start = await loadAppConfig(a.dir, { processEnv: { API_KEY: "from-env", PATH: "/bin" } });
    assert.deepEqual(start.runtimeOptions.vars, { LEVEL: "top", API_KEY: "from-env" });
    assert.deepEqual(start.warnings, [
      `${file}: secrets.required: DB_PASSWORD is not set, so env.DB_PASSWORD will be undefined. Set it in the environment of stead start (DB_PASSWORD=… stead start, systemd Environment=, docker run -e).`,
    ]);
    using bad = app({
      "wrangler.jsonc": `{ "main": "src/index.ts", "secrets": { "required": ["API-KEY"] } }`,
    });
    await assertFails(bad.dir, "INVALID_CONFIG", [
      "secrets.required[0]: must be a variable name, like API_KEY",
    ]);
  });

  it("STEAD_CONFIRM_DELETE lists the migration tags whose deletions are confirmed", async () => {
    using a = app({ "wrangler.jsonc": WITH_ENVS });
    const none = await loadAppConfig(a.dir, { processEnv: {} });
    assert.equal(none.runtimeOptions.confirmDeletions, undefined);
    const some = await loadAppConfig(a.dir, { processEnv: { STEAD_CONFIRM_DELETE: " v3, v5 ,," } });
    assert.deepEqual(some.runtimeOptions.confirmDeletions, ["v3", "v5"]);
  });
});

describe("loadAppConfig: keys Stead does not handle are named, one line each", () => {
  it("says what the app will see instead, with the binding names, and stays silent on deployment keys", async () => {
    using dir = app({
      "wrangler.jsonc": `{
        "name": "shop", "main": "src/index.ts",
        "routes": ["shop.example.com/*"], "observability": { "enabled": true },
        "hyperdrive": [{ "binding": "CACHE", "id": "a" }, { "binding": "SESSIONS", "id": "b" }],
        "triggers": { "crons": ["* * * * *"] },
        "ai": { "binding": "AI" },
        "durable_objectz": { "bindings": [{ "name": "ROOM", "class_name": "Room" }] },
        "env": { "staging": { "vectorize": [{ "binding": "INDEX", "index_name": "u" }] } }
      }`,
    });
    const config = await loadAppConfig(dir.dir);
    const file = config.configPath;
    assert.deepEqual(config.warnings, [
      `${file}: hyperdrive is not supported by Stead: env.CACHE, env.SESSIONS will be undefined. See docs/compatibility.md#config-keys`,
      `${file}: triggers is not supported by Stead: Cron triggers never fire: the Worker's \`scheduled\` handler is not called. See docs/compatibility.md#config-keys`,
      `${file}: ai is not supported by Stead: env.AI will be undefined. See docs/compatibility.md#config-keys`,
      `${file}: durable_objectz is not a wrangler config key; Stead ignores it. Check its spelling.`,
    ]);
    const staging = await loadAppConfig(dir.dir, { env: "staging" });
    assert.equal(staging.warnings.length, 5);
    assert.match(
      staging.warnings[4] ?? "",
      /env\.staging\.vectorize is not supported by Stead: env\.INDEX will be undefined/,
    );
  });
});

describe("loadAppConfig: how the app is built", () => {
  it("reads the build keys; environments inherit them but define, and alias is top-level only", async () => {
    using a = app({
      "wrangler.jsonc": JSON.stringify({
        main: "src/index.ts",
        compatibility_flags: ["nodejs_compat"],
        rules: [{ type: "Text", globs: ["**/*.md"], fallthrough: true }],
        define: { __V__: '"1"' },
        alias: { lodash: "lodash-es" },
        tsconfig: "tsconfig.worker.json",
        jsx_factory: "h",
        minify: true,
        keep_names: false,
        env: { staging: { jsx_fragment: "Fragment", define: { __V__: '"2"' } } },
      }),
    });
    const top = await loadAppConfig(a.dir, { processEnv: {} });
    assert.deepEqual(top.runtimeOptions.compatibilityFlags, ["nodejs_compat"]);
    assert.deepEqual(top.runtimeOptions.cwd, a.dir);
    assert.deepEqual(top.runtimeOptions.build, {
      rules: [{ type: "Text", globs: ["**/*.md"], fallthrough: true }],
      define: { __V__: '"1"' },
      alias: { lodash: "lodash-es" },
      tsconfig: join(a.dir, "tsconfig.worker.json"),
      jsxFactory: "h",
      minify: true,
      keepNames: false,
      nodeEnv: "production",
    });
    const staging = await loadAppConfig(a.dir, { env: "staging", dev: true, processEnv: {} });
    assert.deepEqual(staging.runtimeOptions.build, {
      rules: [{ type: "Text", globs: ["**/*.md"], fallthrough: true }],
      define: { __V__: '"2"' },
      alias: { lodash: "lodash-es" },
      tsconfig: join(a.dir, "tsconfig.worker.json"),
      jsxFactory: "h",
      jsxFragment: "Fragment",
      minify: true,
      keepNames: false,
      nodeEnv: "development",
    });
    const fromEnv = await loadAppConfig(a.dir, { processEnv: { NODE_ENV: "test" } });
    assert.equal(fromEnv.runtimeOptions.build.nodeEnv, "test");
  });

  it("reads build (the custom build command): cwd and watch_dir from the config's directory, inherited by environments", async () => {
    using a = app({
      "wrangler.jsonc": JSON.stringify({
        main: "src/index.ts",
        build: { command: "npm run build:client" },
        env: {
          staging: { build: { command: "make", cwd: "client", watch_dir: ["client/src", "lib"] } },
          prod: {},
        },
      }),
    });
    const top = await loadAppConfig(a.dir);
    assert.deepEqual(top.customBuild, {
      command: "npm run build:client",
      cwd: a.dir,
      watchDirs: [join(a.dir, "src")],
    });
    assert.deepEqual((await loadAppConfig(a.dir, { env: "prod" })).customBuild, top.customBuild);
    assert.deepEqual((await loadAppConfig(a.dir, { env: "staging" })).customBuild, {
      command: "make",
      cwd: join(a.dir, "client"),
      watchDirs: [join(a.dir, "client/src"), join(a.dir, "lib")],
    });
    using none = app({ "wrangler.jsonc": JSON.stringify({ main: "src/index.ts" }) });
    assert.equal((await loadAppConfig(none.dir)).customBuild, undefined);
    using bad = app({
      "wrangler.jsonc": JSON.stringify({ main: "src/index.ts", build: { watch_dir: 3 } }),
    });
    await assertFails(bad.dir, "INVALID_CONFIG", ["build.watch_dir", 'like "./src"']);
  });

  it("names a bad rule by its path", async () => {
    using a = app({
      "wrangler.jsonc": JSON.stringify({
        main: "src/index.ts",
        rules: [{ type: "Markdown", globs: ["*.md"] }],
      }),
    });
    await assertFails(a.dir, "INVALID_CONFIG", ["rules[0].type", '"Text", "Data", "CompiledWasm"']);
  });

  it("takes the entry from options.main when the config has none", async () => {
    using a = app({ "wrangler.toml": 'name = "x"' });
    const entry = join(a.dir, "src", "index.ts");
    const config = await loadAppConfig(a.dir, { main: entry });
    assert.equal(config.runtimeOptions.main, entry);
    await assertFails(
      a.dir,
      "INVALID_CONFIG",
      [`The entry module ${join(a.dir, "src/gone.ts")} does not exist`],
      {
        main: join(a.dir, "src/gone.ts"),
      },
    );
  });
});

describe("loadAppConfig: declarative exports", () => {
  it("gives live classes storage with their backend, and refuses the other states", async () => {
    using a = app({
      "wrangler.jsonc": JSON.stringify({
        main: "src/index.ts",
        exports: {
          Room: { type: "durable-object", storage: "sqlite" },
          Legacy: { type: "durable-object", storage: "legacy-kv", state: "created" },
        },
      }),
    });
    const config = await loadAppConfig(a.dir);
    assert.deepEqual(config.runtimeOptions.objectClasses, { Room: "sqlite", Legacy: "kv" });
    assert.deepEqual(config.warnings, []);
    using b = app({
      "wrangler.jsonc": JSON.stringify({
        main: "src/index.ts",
        exports: { Old: { type: "durable-object", state: "deleted" } },
      }),
    });
    await assertFails(b.dir, "CONFIG_UNSUPPORTED", [
      'exports.Old.state: "deleted" is not supported yet',
      "deleted_classes",
    ]);
  });
});

describe("loadAppConfig: assets and kv_namespaces", () => {
  it("resolves the assets directory, inherits assets in environments, and reads KV bindings", async () => {
    using a = app({
      "wrangler.jsonc": `{
        "name": "site", "main": "src/index.ts",
        "assets": { "directory": "./public", "binding": "ASSETS", "not_found_handling": "single-page-application", "run_worker_first": ["/api/*", "!/api/docs/*"] },
        "kv_namespaces": [{ "binding": "CACHE", "id": "abc", "preview_id": "p" }, { "binding": "SESSIONS" }],
        "env": { "staging": { "kv_namespaces": [{ "binding": "STAGING_CACHE", "id": "s" }] } }
      }`,
    });
    mkdirSync(join(a.dir, "public"));
    const config = await loadAppConfig(a.dir);
    assert.deepEqual(config.warnings, []);
    assert.deepEqual(config.runtimeOptions.assets, {
      directory: join(a.dir, "public"),
      binding: "ASSETS",
      not_found_handling: "single-page-application",
      run_worker_first: ["/api/*", "!/api/docs/*"],
    });
    assert.deepEqual(config.runtimeOptions.kv_namespaces, [
      { binding: "CACHE", id: "abc" },
      { binding: "SESSIONS" },
    ]);
    const staging = await loadAppConfig(a.dir, { env: "staging" });
    assert.equal(staging.runtimeOptions.assets?.directory, join(a.dir, "public"));
    assert.deepEqual(staging.runtimeOptions.kv_namespaces, [{ binding: "STAGING_CACHE", id: "s" }]);
  });

  it("refuses a missing assets directory, bad assets keys and a binding name used twice", async () => {
    using a = app({
      "wrangler.jsonc": `{ "main": "src/index.ts", "assets": { "directory": "./dist" } }`,
    });
    await assertFails(a.dir, "INVALID_CONFIG", [
      `assets.directory: ${join(a.dir, "dist")} is not a directory`,
    ]);
    using b = app({
      "wrangler.jsonc": `{ "main": "src/index.ts", "assets": { "directory": ".", "html_handling": "auto", "run_worker_first": ["api/*"] } }`,
    });
    await assertFails(b.dir, "INVALID_CONFIG", [
      'assets.html_handling: must be "auto-trailing-slash"',
      'assets.run_worker_first[0]: must be a path pattern starting with "/" (or "!/" to exclude), like "/api/*", got "api/*"',
    ]);
    // As the agents SDK's examples write it: the Vite plugin's build fills in the directory.
    using noDirectory = app({
      "wrangler.jsonc": `{ "main": "src/index.ts", "assets": { "binding": "ASSETS" } }`,
    });
    await assertFails(noDirectory.dir, "INVALID_CONFIG", [
      'assets.directory: is required: the folder of static files, like "./public" (with the Cloudflare Vite plugin, the config its build generates names it: run the build first)',
    ]);
    using c = app({
      "wrangler.jsonc": `{ "main": "src/index.ts", "assets": { "directory": ".", "binding": "KV" }, "kv_namespaces": [{ "binding": "KV" }] }`,
    });
    await assertFails(c.dir, "INVALID_CONFIG", [
      "assets.binding: the binding name KV is also used by kv_namespaces",
    ]);
  });
});

describe("loadAppConfig: ratelimits, and unsafe.bindings of type ratelimit", () => {
  it("reads both forms as Rate Limiting bindings, and warns only of the unsafe bindings it does not provide", async () => {
    using a = app({
      "wrangler.jsonc": `{
        "name": "api", "main": "src/index.ts",
        "ratelimits": [{ "name": "MY_RATE_LIMITER", "namespace_id": "1001", "simple": { "limit": 100, "period": 60 } }],
        "unsafe": { "bindings": [
          { "name": "OLD_LIMITER", "type": "ratelimit", "namespace_id": "1002", "simple": { "limit": 5, "period": 10 } },
          { "name": "FOO", "type": "some_internal_binding" },
          { "name": "BAR", "type": "param", "param": "x" }
        ] },
        "env": { "quiet": { "unsafe": { "bindings": [
          { "name": "ONLY", "type": "ratelimit", "namespace_id": "7", "simple": { "limit": 1, "period": 60 } }
        ] } } }
      }`,
    });
    const config = await loadAppConfig(a.dir);
    assert.deepEqual(config.runtimeOptions.ratelimits, [
      { name: "MY_RATE_LIMITER", namespace_id: "1001", simple: { limit: 100, period: 60 } },
      { name: "OLD_LIMITER", namespace_id: "1002", simple: { limit: 5, period: 10 } },
    ]);
    assert.deepEqual(config.warnings, [
      `${config.configPath}: unsafe is only partly supported by Stead: env.FOO, env.BAR will be undefined; only its bindings of type "ratelimit" are provided; other bindings and metadata are ignored. See docs/compatibility.md#config-keys`,
    ]);
    // Environments do not inherit bindings; one with only ratelimit bindings warns of nothing
    // but the top level's unsafe key.
    const quiet = await loadAppConfig(a.dir, { env: "quiet" });
    assert.deepEqual(quiet.runtimeOptions.ratelimits, [
      { name: "ONLY", namespace_id: "7", simple: { limit: 1, period: 60 } },
    ]);
    assert.equal(quiet.warnings.length, 1);
    assert.doesNotMatch(quiet.warnings.join("\n"), /env\.quiet\.unsafe/);

    using b = app({
      "wrangler.json": JSON.stringify({
        main: "src/index.ts",
        unsafe: {
          bindings: [
            { name: "L", type: "ratelimit", namespace_id: "1", simple: { limit: 1, period: 10 } },
          ],
        },
      }),
    });
    assert.deepEqual((await loadAppConfig(b.dir)).warnings, []);
    using c = app({
      "wrangler.json": JSON.stringify({ main: "src/index.ts", unsafe: { metadata: { a: 1 } } }),
    });
    assert.deepEqual((await loadAppConfig(c.dir)).warnings, [
      `${join(c.dir, "wrangler.json")}: unsafe is only partly supported by Stead: only its bindings of type "ratelimit" are provided; other bindings and metadata are ignored. See docs/compatibility.md#config-keys`,
    ]);
  });

  it("refuses bad values with the file and the path, in either form", async () => {
    using a = app({
      "wrangler.jsonc": `{
        "main": "src/index.ts",
        "ratelimits": [
          { "name": "A", "namespace_id": "1001", "simple": { "limit": 100, "period": 30 } },
          { "name": "B", "namespace_id": "x", "simple": { "limit": 1.5, "period": 60 } },
          { "name": "C", "namespace_id": "3" }
        ],
        "unsafe": { "bindings": [
          { "name": "D", "type": "ratelimit", "namespace_id": "4", "simple": { "limit": -1, "period": 60 } }
        ] }
      }`,
    });
    const message = await assertFails(a.dir, "INVALID_CONFIG", [
      "wrangler.jsonc: ratelimits[0].simple.period: must be 10 or 60 (seconds), the periods Cloudflare allows; got 30",
      'wrangler.jsonc: ratelimits[1].namespace_id: must be a whole number as a string, like "1001"; got "x"',
      "wrangler.jsonc: ratelimits[1].simple.limit: must be a positive whole number of calls per period, like 100; got 1.5",
      "wrangler.jsonc: ratelimits[2].simple: is required",
      "wrangler.jsonc: unsafe.bindings[0].simple.limit: must be a positive whole number of calls per period, like 100; got -1",
    ]);
    assert.equal(message.split("\n").length, 5, message);
    using b = app({
      "wrangler.jsonc": `{
        "main": "src/index.ts",
        "kv_namespaces": [{ "binding": "LIMITER" }],
        "unsafe": { "bindings": [
          { "name": "LIMITER", "type": "ratelimit", "namespace_id": "4", "simple": { "limit": 1, "period": 60 } }
        ] }
      }`,
    });
    await assertFails(b.dir, "INVALID_CONFIG", [
      "unsafe.bindings: the binding name LIMITER is also used by kv_namespaces",
    ]);
  });
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import {
  createRuntime,
  ManualClock,
  type RuntimeOptions,
  WorkerEntrypoint,
} from "../../src/index.ts";
import { writeFiles } from "../support/app-files.ts";
import { steadError } from "../support/errors.ts";
import { turns } from "../support/event-loop.ts";
import { storageOptions, testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const MAIN = new URL("../fixtures/rpc-worker.ts", import.meta.url);
const ENTRYPOINT = new URL("../fixtures/rpc-entrypoint-worker.ts", import.meta.url);
const NO_FETCH = new URL("../fixtures/rpc-no-fetch-worker.ts", import.meta.url);

const MISSING_FETCH =
  "The entry module has no fetch handler: export default { fetch(request, env, ctx) { ... } } or a class extending WorkerEntrypoint with a fetch() method.";

function start(extra: Partial<RuntimeOptions> = {}) {
  return createRuntime({
    main: MAIN,
    durableObjects: { ECHO: "Echo", OTHER: "Other" },
    vars: { GREETING: "hi" },
    ...storageOptions(),
    ...extra,
  });
}

async function fixture(): Promise<typeof import("../fixtures/rpc-worker.ts")> {
  return import(MAIN.href);
}

describe("export default { fetch }", () => {
  it("receives the request, env and ctx through rt.fetch", async () => {
    await using rt = await start();
    const greet = await rt.fetch("https://app.example/greet?name=bob");
    assert.equal(greet.status, 200);
    assert.equal(await greet.text(), "hi, bob");

    const forwarded = await rt.fetch(
      new Request("https://app.example/items?name=w1", {
        method: "POST",
        headers: { "x-test": "through the worker" },
        body: "item",
      }),
    );
    assert.equal(forwarded.status, 201);
    assert.deepEqual(await forwarded.json(), {
      method: "POST",
      url: "https://app.example/items?name=w1",
      header: "through the worker",
      body: "item",
      name: "w1",
    });
  });

  it("accepts (url, init) like fetch()", async () => {
    await using rt = await start();
    const response = await rt.fetch(new URL("https://app.example/x?name=w2"), {
      method: "PATCH",
      body: "b",
    });
    const seen = await response.json();
    assert.equal(seen.method, "PATCH");
    assert.equal(seen.body, "b");
  });
});

describe("export default class extends WorkerEntrypoint", () => {
  it("is constructed with ctx and env and handles fetch", async () => {
    await using rt = await createRuntime({
      main: ENTRYPOINT,
      durableObjects: { NOTES: "Notes" },
      vars: { GREETING: "hey" },
      ...storageOptions(),
    });
    assert.equal(await (await rt.fetch("https://app.example/")).text(), "hey from an entrypoint");
    const first = await rt.fetch("https://app.example/note?list=a", {
      method: "POST",
      body: "first",
    });
    assert.deepEqual(await first.json(), { greeting: "hey", notes: ["first"], hasWaitUntil: true });
    const second = await rt.fetch("https://app.example/note?list=a", {
      method: "POST",
      body: "second",
    });
    assert.deepEqual((await second.json()).notes, ["first", "second"]);
  });
});

describe("a missing default fetch handler", () => {
  it("gives a clear error when the module has no default export; its objects still work", async () => {
    await using rt = await createRuntime({
      main: NO_FETCH,
      durableObjects: { LONELY: "Lonely" },
      ...storageOptions(),
    });
    await assert.rejects(
      rt.fetch("https://app.example/"),
      steadError("HANDLER_MISSING", MISSING_FETCH),
    );
    assert.equal(await rt.env.LONELY.getByName("x").ping(), "pong");
  });

  it("gives the same error for a default object without fetch, or an entrypoint without fetch", async () => {
    {
      await using rt = await createRuntime({
        main: { default: { notFetch() {} } },
        ...storageOptions(),
      });
      await assert.rejects(
        rt.fetch("https://app.example/"),
        steadError("HANDLER_MISSING", MISSING_FETCH),
      );
    }
    {
      await using rt = await createRuntime({
        main: { default: class extends WorkerEntrypoint {} },
        ...storageOptions(),
      });
      await assert.rejects(
        rt.fetch("https://app.example/"),
        steadError("HANDLER_MISSING", MISSING_FETCH),
      );
    }
  });
});

describe("ctx.waitUntil", () => {
  it("dispose() waits for the promise, and the work it does is kept", async () => {
    using store = testStore("stead-worker-test-");
    // The module itself, not its path: a path is bundled, and the bundle's heldWork is its own.
    const module = await fixture();
    const { heldWork } = module;
    const rt = await start({ ...store.options, main: module });
    const response = await rt.fetch("https://app.example/later?name=wu");
    assert.equal(response.status, 202, "the response does not wait for the background work");
    const release = heldWork.pop();
    assert.ok(release, "the handler registered its work");

    let disposed = false;
    const disposing = rt.dispose().then(() => {
      disposed = true;
    });
    await turns(20);
    assert.equal(disposed, false, "dispose() is waiting for the waitUntil promise");
    release();
    await disposing;

    await using again = await start(store.options);
    assert.equal(await again.env.ECHO.getByName("wu").load("later"), "written in waitUntil");
  });

  it("a rejected promise goes to onError and does not fail dispose()", async () => {
    const seen: Array<{ message: string; context: string }> = [];
    const rt = await start({
      onError: (error, context) => seen.push({ message: (error as Error).message, context }),
    });
    assert.equal((await rt.fetch("https://app.example/later-fail")).status, 202);
    await rt.dispose();
    assert.deepEqual(seen, [{ message: "background work failed", context: "waitUntil" }]);
  });
});

describe("runtime lifecycle", () => {
  it("fetch after dispose() fails clearly; dispose() twice is fine", async () => {
    const rt = await start();
    await rt.dispose();
    await rt.dispose();
    await assert.rejects(
      rt.fetch("https://app.example/greet"),
      steadError("RUNTIME_DISPOSED", /disposed/),
    );
  });
});

describe("createRuntime option validation", () => {
  const invalid = (options: unknown, ...fragments: (string | RegExp)[]) =>
    assert.rejects(
      createRuntime(options as RuntimeOptions),
      steadError("INVALID_CONFIG", "Invalid createRuntime() options:", ...fragments),
    );

  it("rejects options of the wrong type, naming the option path", async () => {
    await invalid(undefined, "(options): ");
    await invalid({}, "  - main: is required");
    await invalid(
      { main: 42 },
      "  - main: must be the entry module's path, URL or imported module namespace",
    );
    await invalid(
      { main: MAIN, durableObjects: { ECHO: 5 } },
      '  - durableObjects.ECHO: must be a class name like "Counter"',
    );
    await invalid(
      { main: MAIN, durableObjects: { ECHO: { className: "Echo", storage: "disk" } } },
      "  - durableObjects.ECHO: ",
      /"sqlite" \| "kv"/,
    );
    await invalid(
      { main: MAIN, durableObjects: { "my-binding": "Echo" } },
      "  - durableObjects.my-binding: ",
      /JavaScript identifiers/,
    );
    await invalid(
      { main: MAIN, durableObjects: { ECHO: "not a class" } },
      "  - durableObjects.ECHO: ",
    );
    await invalid({ main: MAIN, vars: "GREETING=hi" }, "  - vars: ");
    await invalid({ main: MAIN, dataDir: 3 }, "  - dataDir: ");
    await invalid(
      { main: MAIN, compatibilityDate: "yesterday" },
      "  - compatibilityDate: must be a date like 2026-02-24",
    );
    await invalid({ main: MAIN, objects: { idleTimeoutMs: -1 } }, "  - objects.idleTimeoutMs: ");
    await invalid(
      { main: MAIN, objects: { maxQueuedEvents: 1.5 } },
      "  - objects.maxQueuedEvents: ",
    );
    await invalid({ main: MAIN, clock: { now: 0 } }, "  - clock: must be a Clock", "ManualClock");
    await invalid({ main: MAIN, onError: "log" }, "  - onError: ");
  });

  it("lists every problem at once", async () => {
    await invalid(
      { main: MAIN, dataDir: 3, vars: [], compatibilityDate: "2026" },
      "  - dataDir: ",
      "  - vars: ",
      "  - compatibilityDate: ",
    );
  });

  it("rejects unknown option keys, at the top level and nested", async () => {
    await invalid({ main: MAIN, datadir: "/tmp/x" }, '(options): Unrecognized key: "datadir"');
    await invalid(
      { main: MAIN, objects: { idleTimeout: 5 } },
      'objects: Unrecognized key: "idleTimeout"',
    );
    await invalid(
      { main: MAIN, durableObjects: { ECHO: { className: "Echo", sqlite: true } } },
      'durableObjects.ECHO: Unrecognized key: "sqlite"',
    );
  });

  it("accepts valid options", async () => {
    await using rt = await start({
      durableObjects: { ECHO: "Echo", OTHER: { className: "Other", storage: "sqlite" } },
      compatibilityDate: "2026-02-24",
      objects: { idleTimeoutMs: 1000 },
      clock: new ManualClock(),
      onError: () => {},
    });
    assert.equal(await rt.env.OTHER.getByName("ok").shout("ok"), "OK!");
  });

  it("names the binding, the missing class and the classes the module does export", async () => {
    await assert.rejects(
      createRuntime({ main: MAIN, durableObjects: { ECHO: "Echo", MISSING: "Mising" } }),
      steadError(
        "INVALID_CONFIG",
        'Durable Object binding MISSING names class "Mising", but the entry module does not export it.',
        "Exported classes: Echo, Other,",
      ),
    );
    await assert.rejects(
      createRuntime({ main: NO_FETCH, durableObjects: { X: "notAClass" } }),
      steadError("INVALID_CONFIG", 'names class "notAClass"', "Exported classes: Lonely, Quiet."),
    );
  });

  it("reports an entry module that cannot be loaded", async () => {
    await assert.rejects(
      createRuntime({ main: new URL("../fixtures/does-not-exist.ts", import.meta.url) }),
      steadError("MODULE_LOAD_FAILED", "Could not load the entry module", "does-not-exist.ts"),
    );
  });
});

describe("createRuntime from an app's wrangler config", () => {
  const APP = {
    "wrangler.jsonc": `{
      "main": "src/index.ts",
      "vars": { "GREETING": "from the config" },
      "durable_objects": { "bindings": [{ "name": "COUNTER", "class_name": "Counter" }] },
      "build": { "command": "node -e \\"require('fs').writeFileSync('built.txt', 'built')\\"" },
      "rules": [{ "type": "Text", "globs": ["**/*.txt"] }]
    }`,
    ".dev.vars": "SECRET=from .dev.vars\n",
    "src/index.ts": `import { DurableObject } from "cloudflare:workers";
import built from "../built.txt";
export class Counter extends DurableObject {
  async add(): Promise<number> {
    const n = ((await this.ctx.storage.get<number>("n")) ?? 0) + 1;
    await this.ctx.storage.put("n", n);
    return n;
  }
}
export default {
  fetch: (_request: Request, env: Record<string, unknown>) =>
    Response.json({ greeting: env.GREETING, secret: env.SECRET, built }),
};
`,
  };

  it("reads the config as stead dev does, runs its build, and lets the options given win", async () => {
    using app = tempDataDir("stead-config-app-");
    writeFiles(app.path, APP);
    const store = { dataDir: join(app.path, "data"), ...storageOptions() };
    {
      await using rt = await createRuntime({ config: app.path, ...store });
      assert.deepEqual(await (await rt.fetch("http://app/")).json(), {
        greeting: "from the config",
        secret: "from .dev.vars",
        built: "built",
      });
      assert.equal(await rt.env.COUNTER.getByName("a").add(), 1);
    }
    await using rt = await createRuntime({
      config: pathToFileURL(join(app.path, "wrangler.jsonc")),
      ...store,
      vars: { GREETING: "given" },
    });
    const answer = await (await rt.fetch("http://app/")).json();
    assert.equal(answer.greeting, "given");
    assert.equal(answer.secret, "from .dev.vars", "the other vars stay");
    assert.equal(await rt.env.COUNTER.getByName("a").add(), 2);
  });

  it("names a config that does not exist, or a file that is not the one read", async () => {
    using app = tempDataDir("stead-config-app-");
    await assert.rejects(
      createRuntime({ config: join(app.path, "nowhere") }),
      steadError("CONFIG_NOT_FOUND", "nowhere, which does not exist"),
    );
    writeFiles(app.path, { ...APP, "wrangler.toml": 'main = "src/index.ts"\n' });
    await assert.rejects(
      createRuntime({ config: join(app.path, "wrangler.toml") }),
      steadError("INVALID_CONFIG", "wrangler.jsonc in the same directory is the one"),
    );
    await assert.rejects(
      createRuntime({ config: 7 as unknown as string }),
      steadError("INVALID_CONFIG", "config must be the app's directory"),
    );
  });
});

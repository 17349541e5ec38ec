// Durable Object migrations through createRuntime, with one data directory reused across
// runtimes the way restarts and deploys reuse it: created classes keep their ids and data, a
// rename carries them to the new name, a delete removes them only once confirmed and unbound,
// tags apply once and in order, and a KV-backed class never gets the SQL API. The last block
// drives the same through a wrangler config file and loadAppConfig.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  createRuntime,
  loadAppConfig,
  ManualClock,
  type Migration,
  type Runtime,
  type RuntimeOptions,
} from "../../src/index.ts";
import { listDurableObjectIds } from "../../src/testing/index.ts";
import { type StoreOptions, storageOptions, TEST_STORAGE, testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { waitFor } from "../support/wait-for.ts";

const MAIN = new URL("../fixtures/migrations-worker.ts", import.meta.url);

const SQL_UNAVAILABLE =
  "Error: This Durable Object is not backed by SQLite storage, so the SQL API is not available. SQL can be enabled on a new Durable Object class by using the `new_sqlite_classes` instead of `new_classes` under `migrations` in your Wrangler configuration.";

/** The class databases are the files under <dataDir>/<Class> (checked besides the API). */
const LOCAL_FILES = TEST_STORAGE.capabilities.localFiles;

function start(store: StoreOptions, options: Partial<RuntimeOptions>): Promise<Runtime> {
  return createRuntime({ main: MAIN, ...store, ...options });
}

/** Starts, runs `fn` against the runtime, and disposes it. */
async function withRuntime<T>(
  store: StoreOptions,
  options: Partial<RuntimeOptions>,
  fn: (rt: Runtime) => Promise<T>,
): Promise<T> {
  await using rt = await start(store, options);
  return await fn(rt);
}

/** Asserts that starting fails with `code` and a message matching every pattern. */
async function assertRefused(
  store: StoreOptions,
  options: Partial<RuntimeOptions>,
  code: string,
  ...patterns: Array<string | RegExp>
): Promise<string> {
  let message = "";
  await assert.rejects(start(store, options), (error: any) => {
    assert.equal(error.code, code, error.message);
    message = error.message;
    return true;
  });
  for (const pattern of patterns) {
    if (typeof pattern === "string") assert.ok(message.includes(pattern), message);
    else assert.match(message, pattern);
  }
  return message;
}

const V1: Migration = { tag: "v1", new_sqlite_classes: ["Room", "Doomed"] };

describe("migrations: renamed_classes", () => {
  it("the new name keeps the old class's ids, data (KV, SQL) and alarms", async () => {
    using store = testStore("stead-migrations-");
    const clock = new ManualClock();
    const unique = await withRuntime(
      store.options,
      { migrations: [V1], durableObjects: { ROOM: "Room" }, clock },
      async (rt) => {
        await rt.env.ROOM.getByName("a").write("k", "kept");
        assert.deepEqual(await rt.env.ROOM.getByName("a").sqlWrite("row"), {
          rows: [{ text: "row" }],
        });
        await rt.env.ROOM.getByName("a").scheduleAlarm(clock.now() + 1000);
        const id = rt.env.ROOM.newUniqueId();
        await rt.env.ROOM.get(id).write("k", "unique");
        return { byName: rt.env.ROOM.idFromName("a").toString(), id: id.toString() };
      },
    );

    const migrations = [V1, { tag: "v2", renamed_classes: [{ from: "Room", to: "Hall" }] }];
    await withRuntime(
      store.options,
      { migrations, durableObjects: { HALL: "Hall" }, clock },
      async (rt) => {
        assert.equal(rt.env.HALL.idFromName("a").toString(), unique.byName, "same id for the name");
        assert.equal(await rt.env.HALL.getByName("a").read("k"), "kept");
        assert.equal(
          await rt.env.HALL.get(rt.env.HALL.idFromString(unique.id)).read("k"),
          "unique",
        );
        assert.deepEqual(await rt.env.HALL.getByName("a").sqlWrite("more"), {
          rows: [{ text: "row" }, { text: "more" }],
        });
        const ids = (await listDurableObjectIds(rt.env.HALL)).map(String).sort();
        assert.deepEqual(ids, [unique.byName, unique.id].sort());
        await clock.advance(1000);
        await waitFor(
          async () => (await rt.env.HALL.getByName("a").read("alarm-ran")) === true,
          "the alarm set under Room to run under Hall",
        );
      },
    );

    // The old name no longer exists: a binding to it is refused with the way out.
    await assertRefused(
      store.options,
      { migrations, durableObjects: { ROOM: "Room" } },
      "MIGRATION_INVALID",
      'the Durable Object binding ROOM references class Room, but migration "v2" renamed it to Hall',
    );
  });

  it("a rename onto an existing class is refused and changes nothing", async () => {
    using store = testStore("stead-migrations-");
    await withRuntime(store.options, { migrations: [V1], durableObjects: { ROOM: "Room" } }, (rt) =>
      rt.env.ROOM.getByName("a").write("k", 1),
    );
    const onto = { tag: "v2", renamed_classes: [{ from: "Room", to: "Doomed" }] };
    await assertRefused(
      store.options,
      { migrations: [V1, onto], durableObjects: { DOOMED: "Doomed" } },
      "MIGRATION_INVALID",
      'createRuntime() options: migrations[1] (tag "v2"): renamed_classes renames Room to Doomed, but a class Doomed already exists.',
      "The destination of a rename must not exist yet",
    );
    await withRuntime(
      store.options,
      { migrations: [V1], durableObjects: { ROOM: "Room" } },
      async (rt) => assert.equal(await rt.env.ROOM.getByName("a").read("k"), 1),
    );
  });
});

describe("migrations: deleted_classes", () => {
  const V2: Migration = { tag: "v2", deleted_classes: ["Doomed"] };

  it("deletes a class's objects, data and alarms only when unbound and confirmed", async () => {
    using store = testStore("stead-migrations-");
    const clock = new ManualClock();
    const both = { ROOM: "Room", DOOMED: "Doomed" };
    await withRuntime(
      store.options,
      { migrations: [V1], durableObjects: both, clock },
      async (rt) => {
        await rt.env.ROOM.getByName("a").write("k", "room");
        await rt.env.DOOMED.getByName("a").write("k", "doomed");
        await rt.env.DOOMED.getByName("b").scheduleAlarm(clock.now() + 60_000);
      },
    );
    const doomedDir = join(store.dataDir, "Doomed");
    if (LOCAL_FILES) assert.ok(existsSync(doomedDir));

    // Cloudflare's rule: the binding must go first.
    await assertRefused(
      store.options,
      { migrations: [V1, V2], durableObjects: both, confirmDeletions: ["v2"] },
      "MIGRATION_INVALID",
      /^Cannot apply --delete-class migration to class Doomed without also removing the binding that references it\./,
      "remove the binding DOOMED from durable_objects.bindings",
    );

    // Stead's rule: deleting data needs an explicit confirmation, and says how to give it.
    const message = await assertRefused(
      store.options,
      { migrations: [V1, V2], durableObjects: { ROOM: "Room" } },
      "DELETE_NOT_CONFIRMED",
      'migration "v2" deletes class Doomed: 2 stored objects',
      "set STEAD_CONFIRM_DELETE=v2 for stead dev / stead start",
      'pass confirmDeletions: ["v2"] to createRuntime()',
      "Nothing was changed.",
    );
    assert.ok(message.split("\n").length <= 8, `one screen:\n${message}`);
    await assertRefused(
      store.options,
      { migrations: [V1, V2], durableObjects: { ROOM: "Room" }, confirmDeletions: ["v3"] },
      "DELETE_NOT_CONFIRMED",
    );

    // Refusals changed nothing.
    await withRuntime(store.options, { migrations: [V1], durableObjects: both }, async (rt) => {
      assert.equal(await rt.env.DOOMED.getByName("a").read("k"), "doomed");
    });

    const confirmed = { migrations: [V1, V2], confirmDeletions: ["v2"] };
    await withRuntime(
      store.options,
      { ...confirmed, durableObjects: { ROOM: "Room" }, clock },
      async (rt) => {
        assert.equal(await rt.env.ROOM.getByName("a").read("k"), "room", "other classes keep data");
        assert.equal(rt.env.DOOMED, undefined);
        if (LOCAL_FILES) assert.equal(existsSync(doomedDir), false, "the databases are gone");
      },
    );

    // A deleted class cannot be bound again unless a new migration recreates it, empty.
    await assertRefused(
      store.options,
      { ...confirmed, durableObjects: { DOOMED: "Doomed" } },
      "MIGRATION_INVALID",
      'the Durable Object binding DOOMED references class Doomed, but migration "v2" deleted it',
      "list it in new_sqlite_classes in a new migration",
    );
    const v3 = { tag: "v3", new_sqlite_classes: ["Doomed"] };
    await withRuntime(
      store.options,
      {
        migrations: [V1, V2, v3],
        confirmDeletions: ["v2"],
        durableObjects: { DOOMED: "Doomed" },
        clock,
      },
      async (rt) => {
        assert.deepEqual(await listDurableObjectIds(rt.env.DOOMED), []);
        assert.equal(await rt.env.DOOMED.getByName("a").read("k"), undefined);
        // The deleted class's alarm (due at +60 s) is gone from the index: a later alarm runs,
        // the deleted one never does.
        await rt.env.DOOMED.getByName("c").scheduleAlarm(clock.now() + 120_000);
        await clock.advance(120_000);
        await waitFor(
          async () => (await rt.env.DOOMED.getByName("c").read("alarm-ran")) === true,
          "the new alarm to run",
        );
        assert.equal(await rt.env.DOOMED.getByName("b").read("alarm-ran"), undefined);
      },
    );
  });
});

describe("migrations: tags", () => {
  it("apply in list order, each once", async () => {
    using store = testStore("stead-migrations-");
    // Only this order works: Room must exist to be renamed, and its name must be free again to
    // be created anew.
    const migrations: Migration[] = [
      { tag: "v1", new_sqlite_classes: ["Room"] },
      { tag: "v2", renamed_classes: [{ from: "Room", to: "Hall" }] },
      { tag: "v3", new_sqlite_classes: ["Room", "Doomed"] },
      { tag: "v4", deleted_classes: ["Doomed"] },
      { tag: "v5", new_sqlite_classes: ["Doomed"] },
    ];
    const options = {
      migrations,
      confirmDeletions: ["v4"],
      durableObjects: { HALL: "Hall", ROOM: "Room", DOOMED: "Doomed" },
    };
    await withRuntime(store.options, options, async (rt) => {
      assert.notEqual(
        rt.env.HALL.idFromName("a").toString(),
        rt.env.ROOM.idFromName("a").toString(),
      );
      await rt.env.HALL.getByName("a").write("k", "hall");
      await rt.env.DOOMED.getByName("a").write("k", "doomed");
      assert.equal(await rt.env.ROOM.getByName("a").read("k"), undefined, "a separate namespace");
    });
    // Applied tags are not applied again: v4's deletion does not run a second time.
    await withRuntime(store.options, options, async (rt) => {
      assert.equal(await rt.env.HALL.getByName("a").read("k"), "hall");
      assert.equal(await rt.env.DOOMED.getByName("a").read("k"), "doomed");
    });
  });

  it("applied tags stay listed, in order, with new tags after them", async () => {
    using store = testStore("stead-migrations-");
    const v2 = { tag: "v2", new_sqlite_classes: ["Hall"] };
    const v3 = { tag: "v3", new_classes: ["Legacy"] };
    const bound = { durableObjects: { ROOM: "Room" } };
    await withRuntime(store.options, { ...bound, migrations: [V1, v2] }, async () => {});
    await assertRefused(
      store.options,
      { ...bound, migrations: [V1] },
      "MIGRATION_INVALID",
      'migrations no longer lists "v2", already applied to this data directory (applied, in order: v1, v2)',
    );
    await assertRefused(
      store.options,
      { ...bound, migrations: [v2, V1] },
      "MIGRATION_INVALID",
      "migrations lists the applied tags in the order v2, v1, but they were applied as v1, v2",
    );
    await assertRefused(
      store.options,
      { ...bound, migrations: [V1, v3, v2] },
      "MIGRATION_INVALID",
      'the new migration "v3" comes before "v2", which was already applied to this data directory. Move "v3" to the end of migrations.',
    );
    await assertRefused(
      store.options,
      { ...bound, migrations: [V1, v2, { ...v3, tag: "v1" }] },
      "MIGRATION_INVALID",
      'migrations lists the tag "v1" twice',
    );
  });
});

describe("migrations: storage backends", () => {
  it("a new_classes class is KV-backed for good: KV works, the SQL API is unavailable", async () => {
    using store = testStore("stead-migrations-");
    const migrations = [{ tag: "v1", new_classes: ["Legacy"] }];
    await withRuntime(
      store.options,
      { migrations, durableObjects: { LEGACY: "Legacy" } },
      async (rt) => {
        const stub = rt.env.LEGACY.getByName("a");
        await stub.write("k", 1);
        assert.equal(await stub.read("k"), 1);
        assert.deepEqual(await stub.sqlWrite("x"), { error: SQL_UNAVAILABLE });
      },
    );
    // The recorded backend wins over a binding's default, also without migrations.
    for (const binding of ["Legacy", { className: "Legacy", storage: "sqlite" as const }]) {
      await withRuntime(store.options, { durableObjects: { LEGACY: binding } }, async (rt) => {
        assert.equal(await rt.env.LEGACY.getByName("a").read("k"), 1);
        assert.deepEqual(await rt.env.LEGACY.getByName("a").sqlWrite("x"), {
          error: SQL_UNAVAILABLE,
        });
      });
    }
    await assertRefused(
      store.options,
      { migrations: [...migrations, { tag: "v2", new_sqlite_classes: ["Legacy"] }] },
      "MIGRATION_INVALID",
      "new_sqlite_classes lists Legacy, but Legacy already exists as a KV-backed class (new_classes). A KV-backed class cannot be converted to SQLite",
    );
  });

  it("without migrations a bound class is SQLite-backed and a later migration adopts it", async () => {
    using store = testStore("stead-migrations-");
    const id = await withRuntime(
      store.options,
      { durableObjects: { ROOM: "Room" } },
      async (rt) => {
        assert.deepEqual(await rt.env.ROOM.getByName("a").sqlWrite("x"), { rows: [{ text: "x" }] });
        return rt.env.ROOM.idFromName("a").toString();
      },
    );
    if (LOCAL_FILES) {
      assert.ok(
        existsSync(join(store.dataDir, "Room", `${id}.sqlite`)),
        "data under <dataDir>/Room",
      );
    }
    await withRuntime(
      store.options,
      {
        migrations: [{ tag: "v1", new_sqlite_classes: ["Room"] }],
        durableObjects: { ROOM: "Room" },
      },
      async (rt) => {
        assert.equal(rt.env.ROOM.idFromName("a").toString(), id);
        assert.deepEqual(await rt.env.ROOM.getByName("a").sqlWrite("y"), {
          rows: [{ text: "x" }, { text: "y" }],
        });
      },
    );
    await assertRefused(
      store.options,
      {
        migrations: [
          { tag: "v1", new_sqlite_classes: ["Room"] },
          { tag: "v2", new_classes: ["Room"] },
        ],
      },
      "MIGRATION_INVALID",
      "new_classes lists Room, but Room already exists as a SQLite-backed class",
    );
  });
});

describe("migrations: what Stead refuses", () => {
  it("transfers, and renames or deletes of classes that do not exist, with nothing changed", async () => {
    using store = testStore("stead-migrations-");
    await assertRefused(
      store.options,
      {
        migrations: [
          { tag: "v1", transferred_classes: [{ from: "A", from_script: "other", to: "Room" }] },
        ],
      },
      "CONFIG_UNSUPPORTED",
      'migrations[0] (tag "v1"): transferred_classes (A from Worker "other" to Room) is not supported yet',
      "list it in new_sqlite_classes instead",
    );
    await assertRefused(
      store.options,
      { migrations: [{ tag: "v1", renamed_classes: [{ from: "Nope", to: "Room" }] }] },
      "MIGRATION_INVALID",
      "renamed_classes renames Nope to Room, but there is no class Nope",
    );
    await assertRefused(
      store.options,
      { migrations: [V1, { tag: "v2", deleted_classes: ["Nope"] }] },
      "MIGRATION_INVALID",
      "deleted_classes lists Nope, but there is no class Nope",
    );
    await assertRefused(
      store.options,
      { migrations: [{ tag: "v1", new_sqlite_classs: ["Room"] } as never] },
      "INVALID_CONFIG",
      'migrations.0: Unrecognized key: "new_sqlite_classs"',
    );
    // None of the refused migrations was recorded.
    await withRuntime(
      store.options,
      { migrations: [V1], durableObjects: { ROOM: "Room" } },
      async () => {},
    );
  });
});

describe("migrations from a wrangler config file", () => {
  /** An app directory with a wrangler config and an entry module that re-exports the fixture. */
  function appDirectory(file: string, text: string): { path: string } & Disposable {
    const dir = tempDataDir("stead-app-");
    mkdirSync(join(dir.path, "src"));
    writeFileSync(
      join(dir.path, "src", "index.ts"),
      `export * from ${JSON.stringify(MIGRATIONS_WORKER)};\nexport { default } from ${JSON.stringify(MIGRATIONS_WORKER)};\n`,
    );
    writeFileSync(join(dir.path, file), text);
    return dir;
  }
  const MIGRATIONS_WORKER = MAIN.href;

  const jsonc = (bindings: string, migrations: string) => `// A Cloudflare app's config, unchanged
{
  "name": "notes",
  "main": "src/index.ts",
  "compatibility_date": "2026-02-24",
  "observability": { "enabled": true }, // ignored by Stead
  "vars": { "GREETING": "hi", },
  "durable_objects": { "bindings": [${bindings}] },
  "migrations": [${migrations}],
}
`;

  it("applies the config's migrations; deletion is confirmed with STEAD_CONFIRM_DELETE", async () => {
    using app = appDirectory(
      "wrangler.jsonc",
      jsonc(
        `{ "name": "ROOM", "class_name": "Room" }, { "name": "DOOMED", "class_name": "Doomed" }`,
        `{ "tag": "v1", "new_sqlite_classes": ["Room", "Doomed"] }`,
      ),
    );
    const dataDir = join(app.path, ".stead");
    const store = { dataDir, ...storageOptions() };
    const config = await loadAppConfig(app.path);
    await withRuntime(store, config.runtimeOptions, async (rt) => {
      await rt.env.DOOMED.getByName("a").write("k", 1);
      const response = await rt.fetch("http://app/?binding=DOOMED&name=a");
      assert.deepEqual(await response.json(), { value: 1 });
      assert.equal(rt.env.GREETING, "hi");
    });

    writeFileSync(
      config.configPath,
      jsonc(
        `{ "name": "ROOM", "class_name": "Room" }`,
        `{ "tag": "v1", "new_sqlite_classes": ["Room", "Doomed"] }, { "tag": "v2", "deleted_classes": ["Doomed"] }`,
      ),
    );
    const unconfirmed = await loadAppConfig(app.path, { processEnv: {} });
    await assertRefused(
      store,
      unconfirmed.runtimeOptions,
      "DELETE_NOT_CONFIRMED",
      `${config.configPath}: a deleted_classes migration would delete data for good`,
      "STEAD_CONFIRM_DELETE=v2",
    );
    const confirmed = await loadAppConfig(app.path, { processEnv: { STEAD_CONFIRM_DELETE: "v2" } });
    assert.deepEqual(confirmed.runtimeOptions.confirmDeletions, ["v2"]);
    await withRuntime(store, confirmed.runtimeOptions, async (rt) => {
      assert.equal(rt.env.DOOMED, undefined);
      if (LOCAL_FILES) assert.equal(existsSync(join(dataDir, "Doomed")), false);
    });
  });

  it("bad configs give a short error naming the file and the fix", async () => {
    const cases: Array<[file: string, text: string, code: string, expected: string[]]> = [
      [
        "wrangler.jsonc",
        jsonc(`{ "name": "ROOM", "class_name": "Missing" }`, ""),
        "INVALID_CONFIG",
        [
          'Durable Object binding ROOM names class "Missing", but the entry module does not export it. Exported classes: Doomed, Hall, Legacy, Room.',
          "Export the class, or fix the class name.",
        ],
      ],
      [
        "wrangler.jsonc",
        jsonc(`{ "name": "ROOM", "class_name": "Room" }`, "").replace(
          "src/index.ts",
          "src/gone.ts",
        ),
        "INVALID_CONFIG",
        ["main: the entry module", 'src/gone.ts does not exist. Fix "main"'],
      ],
      [
        "wrangler.jsonc",
        jsonc(`{ "name": "ROOM" "class_name": "Room" }`, ""),
        "INVALID_CONFIG",
        [":8:54: wrangler.jsonc is not valid JSONC: comma expected.", "Fix the syntax there"],
      ],
      [
        "wrangler.toml",
        'main = "src/index.ts"\n[[durable_objects.bindings]]\nname = "ROOM"\nclass_name = Room\n',
        "INVALID_CONFIG",
        [":4:14: wrangler.toml is not valid TOML:", "Fix the syntax there."],
      ],
      [
        "wrangler.toml",
        'main = "src/index.ts"\n[[durable_objects.bindings]]\nname = "ROOM"\nclass_name = "Room"\nscript_name = "other"\n',
        "CONFIG_UNSUPPORTED",
        [
          'durable_objects.bindings[0] (ROOM): script_name "other" binds a class of another Worker, which is not supported yet',
          "Remove script_name",
        ],
      ],
    ];
    for (const [file, text, code, expected] of cases) {
      using app = appDirectory(file, text);
      const configPath = join(app.path, file);
      await assert.rejects(
        (async () => {
          const config = await loadAppConfig(app.path);
          await using _rt = await start(
            { dataDir: join(app.path, ".stead"), ...storageOptions() },
            config.runtimeOptions,
          );
        })(),
        (error: any) => {
          assert.equal(error.code, code, error.message);
          assert.ok(error.message.startsWith(`${configPath}`), error.message);
          for (const part of expected) assert.ok(error.message.includes(part), error.message);
          assert.ok(error.message.split("\n").length <= 8, `one screen:\n${error.message}`);
          return true;
        },
      );
    }
  });
});

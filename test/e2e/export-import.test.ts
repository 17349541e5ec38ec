// `stead objects export` / `import`: the export format carries everything an object holds
// (KV values of every structured-clone type, tables, indexes, views, triggers, sequences, FTS5,
// user_version, the alarm) from one server to another; an export under write load is a state
// the object had at a commit; an import that fails leaves its object as it was.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { deserialize } from "node:v8";
import { exportObjects } from "../../src/admin/object-transfer.ts";
import { createRuntime } from "../../src/index.ts";
import { adminOf } from "../support/admin.ts";
import { runStead, type SteadProcess, startStead } from "../support/stead-process.ts";
import { type TestStore, testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const APP = fileURLToPath(new URL("../fixtures/apps/store-app/", import.meta.url));
const MAIN = new URL("../fixtures/apps/store-app/src/index.js", import.meta.url);
const TOKEN = "rw-token-for-the-export-tests";
const ENV = { STEAD_ADMIN_TOKEN: TOKEN };

function serve(store: TestStore): Promise<SteadProcess> {
  return startStead("start", [APP, "--admin-port", "0", "--threads", "2"], {
    store,
    env: { ...store.env, ...ENV },
  });
}

function objects(args: string[], store: TestStore) {
  return runStead(["objects", ...args], { cwd: APP, store, env: { ...store.env, ...ENV } });
}

async function get(server: SteadProcess, path: string): Promise<string> {
  const response = await fetch(`${server.url}${path}`);
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return text;
}

function lines(path: string): unknown[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line));
}

describe("stead objects export and import", () => {
  it("carries objects between servers with every value's type, schema and alarm", async () => {
    using files = tempDataDir("stead-export-files-");
    using source = testStore();
    using target = testStore();
    const all = join(files.path, "all.jsonl");
    const one = join(files.path, "one.jsonl");
    let before: Record<string, string>;
    {
      await using a = await serve(source);
      await get(a, "/seed/alpha");
      await get(a, "/seed/beta");
      before = { alpha: await get(a, "/describe/alpha"), beta: await get(a, "/describe/beta") };
      const exported = await objects(["export", "Store", "--out", all], source);
      assert.equal(exported.code, 0, exported.stderr);
      assert.match(exported.stderr, /Exported 2 objects .* to .*all\.jsonl/);
      const single = await objects(["export", "Store", "alpha", "--out", one], source);
      assert.equal(single.code, 0, single.stderr);
    }
    const [header, ...records] = lines(all) as Record<string, any>[];
    assert.equal(header!.format, "stead-export");
    assert.equal(header!.version, 1);
    assert.equal(header!.class, "Store");
    assert.deepEqual(records.map((r) => r.name).sort(), ["alpha", "beta"]);
    const alpha = records.find((r) => r.name === "alpha")!;
    assert.equal(alpha.alarm, Date.UTC(2100, 0, 1));
    assert.deepEqual(alpha.sql.sequences, [{ name: "messages", seq: 3 }]);
    const pairs = alpha.sql.tables.find((t: { name: string }) => t.name === "pairs");
    assert.equal(pairs.rowid, false, "a WITHOUT ROWID table's rows carry no rowid");
    assert.deepEqual(
      pairs.rows.find((row: unknown[]) => row[0] === "big"),
      ["big", { integer: "9007199254740993" }],
    );
    assert.deepEqual(
      pairs.rows.find((row: unknown[]) => row[0] === "real"),
      ["real", { real: 2 }],
    );
    assert.equal(lines(one).length, 2, "one object: the header and its record");

    await using b = await serve(target);
    const imported = await objects(["import", all], target);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stderr, /Imported 2 objects .* into Store/);
    for (const name of ["alpha", "beta"]) {
      assert.deepEqual(
        JSON.parse(await get(b, `/describe/${name}`)),
        JSON.parse(before[name]!),
        `${name} holds on the new server what it held on the old one`,
      );
    }
    // The sequence and the trigger came along: the next id is 4, and the trigger counts it.
    assert.equal(await get(b, "/post/alpha/eve"), "4");
    const after = JSON.parse(await get(b, "/describe/alpha"));
    assert.deepEqual(after.counters, [{ n: 4 }]);

    // An object that holds data is not overwritten, unless asked to be.
    const refused = await objects(["import", one], target);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /alpha .*already holds data/);
    assert.match(refused.stderr, /Nothing of that object changed/);
    assert.equal(JSON.parse(await get(b, "/describe/alpha")).messages.length, 3);
    const replaced = await objects(["import", one, "--replace"], target);
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.deepEqual(JSON.parse(await get(b, "/describe/alpha")), JSON.parse(before.alpha!));
  });

  it("stops at an object that fails, which is left as it was; a damaged file imports nothing", async () => {
    using files = tempDataDir("stead-export-files-");
    using store = testStore();
    await using server = await serve(store);
    await get(server, "/seed/alpha");
    await get(server, "/seed/beta");
    const exported = join(files.path, "all.jsonl");
    const result = await objects(["export", "Store", "--out", exported], store);
    assert.equal(result.code, 0, result.stderr);
    const [header, ...records] = lines(exported) as Record<string, any>[];
    const alphaBefore = await get(server, "/describe/alpha");
    const renamed = (record: Record<string, any>, name: string) => ({ ...record, name });
    // alpha's record with a row that breaks pairs' primary key, late in the transaction.
    const broken = structuredClone(records.find((r) => r.name === "alpha")!);
    const pairs = broken.sql.tables.find((t: { name: string }) => t.name === "pairs");
    pairs.rows.push(pairs.rows[0]);
    const file = join(files.path, "halfway.jsonl");
    writeFileSync(
      file,
      [header, renamed(records[0]!, "gamma"), broken, renamed(records[1]!, "delta")]
        .map((line) => JSON.stringify(line))
        .join("\n"),
    );
    const failed = await objects(["import", file, "--replace"], store);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /stopped at .*halfway\.jsonl line 3, object alpha/);
    assert.match(failed.stderr, /UNIQUE constraint failed: pairs\.k/);
    assert.match(failed.stderr, /Nothing of that object changed/);
    assert.match(failed.stderr, /The 1 object before it was imported/);
    assert.match(failed.stderr, /The 1 object after it was not imported/);
    assert.equal(await get(server, "/describe/alpha"), alphaBefore, "alpha is as it was");
    const gamma = await objects(["inspect", "Store", "gamma", "--json"], store);
    assert.equal(gamma.code, 0, "the object before the failure was imported");
    const delta = await objects(["inspect", "Store", "delta"], store);
    assert.match(delta.stderr, /Store has no object delta/, "the object after it was not");

    // A damaged line anywhere: the file is read whole first, and nothing is imported.
    const damaged = join(files.path, "damaged.jsonl");
    writeFileSync(
      damaged,
      [
        JSON.stringify(header),
        JSON.stringify(renamed(records[0]!, "epsilon")),
        JSON.stringify(renamed(records[1]!, "zeta")).slice(0, 40),
        JSON.stringify(renamed(records[1]!, "eta")),
      ].join("\n"),
    );
    const refused = await objects(["import", damaged], store);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /damaged\.jsonl line 3 is not JSON/);
    for (const name of ["epsilon", "eta"]) {
      const inspect = await objects(["inspect", "Store", name], store);
      assert.match(inspect.stderr, new RegExp(`Store has no object ${name}`));
    }
  });

  it("exports a state the object had at a commit, while it is being written", async () => {
    using store = testStore();
    await using runtime = await createRuntime({
      main: MAIN,
      durableObjects: { STORE: "Store" },
      threads: 2,
      ...store.options,
    });
    await using admin = await adminOf(runtime);
    const stub = runtime.env.STORE.getByName("busy");
    let acknowledged = await stub.step();
    let writing = true;
    const writers = Array.from({ length: 8 }, async () => {
      while (writing) acknowledged = Math.max(acknowledged, await stub.step());
    });
    const seen: number[] = [];
    try {
      for (let i = 0; i < 25; i++) {
        const floor = acknowledged;
        let text = "";
        await exportObjects(admin.client, "Store", async (chunk) => void (text += chunk), {
          object: "busy",
          stead: "test",
        });
        const ceiling = acknowledged;
        const record = JSON.parse(text.split("\n")[1]!);
        const n = counterOf(record);
        const log = record.sql.tables.find((t: { name: string }) => t.name === "log");
        const logged = log.rows.map((row: unknown[]) => row.at(-1));
        // The counter and the log were written together: the export holds both or neither.
        assert.deepEqual(
          logged,
          Array.from({ length: n }, (_, k) => k + 1),
        );
        assert.ok(n >= floor, `export ${i}: ${n} is at least the ${floor} acknowledged before it`);
        // Writes in flight may be in it (committed, not yet answered), never more than were made.
        assert.ok(n <= ceiling + 8, `export ${i}: ${n} is at most ${ceiling} + the 8 in flight`);
        seen.push(n);
      }
    } finally {
      writing = false;
      await Promise.all(writers);
    }
    assert.ok(new Set(seen).size > 1, `the exports saw the object change (${seen.join(", ")})`);
  });
});

/** The KV counter `n` of an exported record (a V8-serialized number). */
function counterOf(record: { kv: [string, string][] }): number {
  const entry = record.kv.find(([key]) => key === "n");
  assert.ok(entry !== undefined, "the record has the counter");
  return deserialize(Buffer.from(entry[1], "base64")) as number;
}

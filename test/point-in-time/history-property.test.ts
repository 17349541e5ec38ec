// Property test of point-in-time recovery over random histories, at the driver under test: random
// schema changes, tables with and without primary keys, multi-page rows and KV writes, with
// checkpoints (WAL restarts), reopens and restores in between. After each commit the state is
// recorded with its position; restoring to each position must give exactly that state: every
// table, the hidden _cf_KV table, and the schema.
//
// The seed is fixed so the suite is deterministic; set STEAD_FC_SEED to explore other seeds.
import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { DatabaseHandle } from "../../src/core/storage/driver.ts";
import { LocalDriver } from "../../src/drivers/local/local-driver.ts";
import { PostgresDriver } from "../../src/drivers/postgres/postgres-driver.ts";
import { skipUnless, TEST_STORAGE, tempSchema } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const op = fc.oneof(
  fc.record({ kind: fc.constant("create" as const), table: fc.nat(3), pk: fc.boolean() }),
  fc.record({ kind: fc.constant("drop" as const), table: fc.nat(3) }),
  fc.record({ kind: fc.constant("index" as const), table: fc.nat(3) }),
  fc.record({
    kind: fc.constant("insert" as const),
    table: fc.nat(3),
    size: fc.constantFrom(1, 100, 5000, 20000),
  }),
  fc.record({ kind: fc.constant("delete" as const), table: fc.nat(3) }),
  fc.record({ kind: fc.constant("kv" as const), key: fc.nat(5), size: fc.constantFrom(1, 9000) }),
  fc.record({ kind: fc.constant("reopen" as const) }),
  fc.record({ kind: fc.constant("restore" as const), back: fc.nat(20) }),
);

type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

function apply(db: DatabaseSync, o: Op): void {
  if (o.kind === "reopen" || o.kind === "restore") return;
  const t = `t${"table" in o ? o.table : 0}`;
  const exists = () =>
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t) !==
    undefined;
  switch (o.kind) {
    case "create":
      db.exec(`CREATE TABLE IF NOT EXISTS ${t} (${o.pk ? "id INTEGER PRIMARY KEY, " : ""}v BLOB)`);
      break;
    case "drop":
      db.exec(`DROP TABLE IF EXISTS ${t}`);
      break;
    case "index":
      if (exists()) db.exec(`CREATE INDEX IF NOT EXISTS ${t}_v ON ${t}(v)`);
      break;
    case "insert":
      if (exists()) db.prepare(`INSERT INTO ${t} (v) VALUES (randomblob(?))`).run(o.size);
      break;
    case "delete":
      if (exists()) db.exec(`DELETE FROM ${t} WHERE rowid % 2 = 0`);
      break;
    case "kv":
      db.prepare("INSERT OR REPLACE INTO _cf_KV (key, value) VALUES (?, randomblob(?))").run(
        `k${o.key}`,
        o.size,
      );
      break;
  }
}

/** Everything in the database: the schema and every row of every table, hidden ones included. */
function dump(db: DatabaseSync): string {
  const schema = db
    .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
    .all();
  const tables = schema.filter((row) => row.type === "table").map((row) => String(row.name));
  const contents = tables.map((name) => [
    name,
    db
      .prepare(`SELECT * FROM "${name}" ORDER BY 1`)
      .all()
      .map((row) => JSON.stringify(row, hex)),
  ]);
  return JSON.stringify({ schema, contents });
}

function hex(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Buffer.from(value).toString("hex") : value;
}

/** One object on the storage under test, and how to start it again (applying a recorded restore). */
interface Subject extends AsyncDisposable {
  readonly handle: DatabaseHandle;
  restart(): Promise<void>;
}

const ID = "a".repeat(64);

/**
 * The local driver (checkpoints every 3 commits, so WAL restarts come often), or the PostgreSQL
 * driver on a schema of its own (compaction every 3 rows, so restores read past compacted rows).
 */
async function subject(): Promise<Subject> {
  const dir = tempDataDir();
  if (TEST_STORAGE.name === "local") {
    const driver = new LocalDriver({ dataDir: dir.path, checkpointAfterCommits: 3 });
    const handle = driver.openObject("ns", ID);
    return {
      handle,
      restart: async () => handle.history!.applyPendingRestore(),
      async [Symbol.asyncDispose]() {
        await driver.close();
        dir[Symbol.dispose]();
      },
    };
  }
  const schema = tempSchema();
  const driver = await PostgresDriver.connect({
    url: schema.url,
    dataDir: dir.path,
    compactAfter: 3,
  });
  await driver.prepareObject("ns", ID);
  return {
    handle: driver.openObject("ns", ID),
    restart: () => driver.prepareObject("ns", ID),
    async [Symbol.asyncDispose]() {
      await driver.close();
      await schema[Symbol.asyncDispose]();
      dir[Symbol.dispose]();
    },
  };
}

describe("point-in-time recovery over random histories", () => {
  it("restoring to each recorded position gives the state recorded there", {
    skip: skipUnless("history", "restores the driver's DatabaseHistory to recorded positions"),
  }, async () => {
    const seed = Number(process.env.STEAD_FC_SEED ?? 20261206);
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 40 }), async (ops) => {
        await using object = await subject();
        const { handle } = object;
        const history = handle.history!;
        handle.sqlite.exec(
          "CREATE TABLE IF NOT EXISTS _cf_KV (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID",
        );
        await handle.flush();
        const states: Array<[number, string]> = [];
        for (const o of ops) {
          if (o.kind === "reopen") {
            handle.reopen();
            continue;
          }
          if (o.kind === "restore") {
            const target = states[Math.max(0, states.length - 1 - o.back)];
            if (target === undefined) continue;
            await history.restoreOnNextStart(target[0]);
            await object.restart();
          } else {
            handle.sqlite.exec("BEGIN");
            apply(handle.sqlite, o);
            handle.sqlite.exec("COMMIT");
            await handle.flush();
          }
          states.push([await history.currentPosition(), dump(handle.sqlite)]);
        }
        for (const [position, state] of states) {
          assert.equal(await history.check(position), "kept");
          await history.restoreOnNextStart(position);
          await object.restart();
          assert.equal(dump(handle.sqlite), state, `state at position ${position}`);
          const integrity = handle.sqlite.prepare("PRAGMA integrity_check").get();
          assert.equal(integrity?.integrity_check, "ok");
        }
      }),
      { seed, numRuns: 25 },
    );
  });
});

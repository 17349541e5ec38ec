// Property test of the PostgreSQL driver's WAL capture: random workloads on one object (tables
// with and without keys, rows spanning many pages, indexes, drops, KV-style upserts, VACUUM,
// reopens, frequent checkpoints so the WAL restarts often, compactions) are rebuilt from
// PostgreSQL alone, the local files deleted, and the rebuilt database must pass
// integrity_check and hold exactly what the original held.
//
// The seed is fixed so the suite is deterministic; set STEAD_FC_SEED to explore other seeds.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import type { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import fc from "fast-check";
import { PostgresDriver } from "../../src/drivers/postgres/postgres-driver.ts";
import { tempSchema } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const ID = "e".repeat(64);

const op = fc.oneof(
  fc.record({ kind: fc.constant("create" as const), table: fc.nat(3), pk: fc.boolean() }),
  fc.record({ kind: fc.constant("drop" as const), table: fc.nat(3) }),
  fc.record({ kind: fc.constant("index" as const), table: fc.nat(3) }),
  fc.record({
    kind: fc.constant("insert" as const),
    table: fc.nat(3),
    rows: fc.integer({ min: 1, max: 20 }),
    size: fc.constantFrom(1, 100, 5000, 20000),
  }),
  fc.record({ kind: fc.constant("delete" as const), table: fc.nat(3) }),
  fc.record({ kind: fc.constant("kv" as const), key: fc.nat(20), size: fc.constantFrom(1, 9000) }),
  fc.record({ kind: fc.constant("vacuum" as const) }),
  fc.record({ kind: fc.constant("reopen" as const) }),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

function apply(db: DatabaseSync, o: Op): void {
  if (o.kind === "reopen") return;
  if (o.kind === "vacuum") {
    db.exec("VACUUM");
    return;
  }
  db.exec("CREATE TABLE IF NOT EXISTS kv (k INTEGER PRIMARY KEY, v BLOB)");
  if (o.kind === "kv") {
    db.exec(`INSERT OR REPLACE INTO kv VALUES (${o.key}, randomblob(${o.size}))`);
    return;
  }
  const t = `t${o.table}`;
  const exists =
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t) !==
    undefined;
  switch (o.kind) {
    case "create":
      if (!exists) db.exec(`CREATE TABLE ${t} (${o.pk ? "k INTEGER PRIMARY KEY, " : ""}v BLOB)`);
      return;
    case "drop":
      if (exists) db.exec(`DROP TABLE ${t}`);
      return;
    case "index":
      if (exists) db.exec(`CREATE INDEX IF NOT EXISTS ${t}_v ON ${t} (v)`);
      return;
    case "insert":
      if (!exists) return;
      db.exec("BEGIN");
      for (let i = 0; i < o.rows; i++) {
        db.exec(`INSERT INTO ${t} (v) VALUES (randomblob(${o.size}))`);
      }
      db.exec("COMMIT");
      return;
    case "delete":
      if (exists) db.exec(`DELETE FROM ${t} WHERE rowid % 2 = 0`);
      return;
  }
}

/** Everything the database holds: the schema, and every table's rows as hex. */
function dump(db: DatabaseSync): unknown {
  const tables = db
    .prepare("SELECT name, sql FROM sqlite_master ORDER BY name")
    .all()
    .map((row) => ({ ...row }));
  const rows = tables
    .filter((table) => String(table.sql ?? "").startsWith("CREATE TABLE"))
    .map((table) =>
      db
        .prepare(`SELECT quote(rowid) AS r, hex(v) AS v FROM "${table.name}" ORDER BY rowid`)
        .all()
        .map((row) => ({ ...row })),
    );
  return { tables, rows };
}

describe("PostgreSQL WAL capture", () => {
  it("rebuilds exactly what random workloads committed, across WAL restarts, VACUUM and compaction", async () => {
    const seed = Number(process.env.STEAD_FC_SEED ?? 20261207);
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 40 }), async (ops) => {
        await using schema = tempSchema("p");
        using dir = tempDataDir("stead-capture-");
        const options = {
          url: schema.url,
          dataDir: dir.path,
          compactAfter: 5,
          checkpointAfterFrames: 20,
        };
        let driver = await PostgresDriver.connect(options);
        try {
          await driver.prepareObject("Ns", ID);
          let handle = driver.openObject("Ns", ID);
          for (const o of ops) {
            if (o.kind === "reopen") {
              handle.close();
              await driver.prepareObject("Ns", ID);
              handle = driver.openObject("Ns", ID);
              continue;
            }
            apply(handle.sqlite, o);
            await handle.flush();
          }
          const expected = dump(handle.sqlite);
          await driver.close();
          rmSync(dir.path, { recursive: true, force: true });
          driver = await PostgresDriver.connect(options);
          await driver.prepareObject("Ns", ID);
          const rebuilt = driver.openObject("Ns", ID).sqlite;
          const check = rebuilt
            .prepare("PRAGMA integrity_check")
            .all()
            .map((row) => ({ ...row }));
          assert.deepEqual(check, [{ integrity_check: "ok" }]);
          assert.deepEqual(dump(rebuilt), expected);
        } finally {
          await driver.close();
        }
      }),
      { seed, numRuns: 25 },
    );
  });
});

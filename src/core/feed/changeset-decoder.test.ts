import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { changesetTables, decodeChangeset } from "./changeset-decoder.ts";

describe("decodeChangeset", () => {
  it("reads SQLite's changesets: inserts, updates with only what changed, deletes, every type", () => {
    const db = new DatabaseSync(":memory:");
    db.exec(
      "CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT, c REAL, d BLOB); CREATE TABLE k (key TEXT PRIMARY KEY, v) WITHOUT ROWID; CREATE TABLE nokey (x)",
    );
    db.exec("INSERT INTO t VALUES (1, 'one', 1.0, NULL), (2, 'two', 2.5, x'00ff')");
    const session = db.createSession();
    db.exec(`
      INSERT INTO t VALUES (3, 'tré', 3.0, x'01');
      UPDATE t SET b = 'deux' WHERE a = 2;
      DELETE FROM t WHERE a = 1;
      INSERT INTO k VALUES ('big', 9007199254740993);
      INSERT INTO nokey VALUES (1);`);
    const changeset = session.changeset();
    session.close();
    const changes = decodeChangeset(changeset);
    assert.deepEqual(
      changesetTables(changeset),
      [...new Set(changes.map((change) => change.table))],
      "the table names, read without the values, are the decoded ones",
    );
    const byOp = (op: string, table = "t") =>
      changes.find((change) => change.op === op && change.table === table)!;
    assert.equal(changes.length, 4, "the table without a primary key is not recorded");
    assert.deepEqual(byOp("insert").new, [3n, "tré", 3, new Uint8Array([1])]);
    assert.deepEqual(byOp("insert").pk, [true, false, false, false]);
    assert.deepEqual(byOp("update").old, [2n, "two", undefined, undefined]);
    assert.deepEqual(byOp("update").new, [undefined, "deux", undefined, undefined]);
    assert.deepEqual(byOp("delete").old, [1n, "one", 1, null]);
    assert.deepEqual(byOp("insert", "k").new, ["big", 9007199254740993n]);
  });

  it("refuses bytes that are not a changeset", () => {
    assert.throws(() => decodeChangeset(new Uint8Array([0x12, 0])), RangeError);
    assert.throws(() => decodeChangeset(new Uint8Array([0x54, 2, 1])), RangeError);
    assert.throws(() => changesetTables(new Uint8Array([0x12, 0])), RangeError);
    assert.throws(
      () => changesetTables(new Uint8Array([0x54, 1, 1, 0x61, 0, 18, 0, 3, 9])),
      RangeError,
    );
  });
});

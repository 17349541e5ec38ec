import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { fromCell, toCell } from "../core/object/object-record.ts";
import { parseHeader, parseRecord, recordProblem } from "./export-format.ts";

const RECORD = {
  id: "a".repeat(64),
  name: "lobby",
  alarm: null,
  kv: [["k", "AAE="]],
  sql: {
    userVersion: 0,
    schema: [{ type: "table", name: "t", sql: "CREATE TABLE t (v)" }],
    tables: [{ name: "t", columns: ["v"], rowid: true, rows: [[1, { real: 2 }]] }],
    sequences: [],
  },
};

describe("the export format", () => {
  it("keeps every SQLite value's storage class through JSON", () => {
    const db = new DatabaseSync(":memory:");
    db.exec("CREATE TABLE t (v)");
    const values = [
      null,
      "text",
      42n,
      2n ** 62n,
      -(2n ** 63n),
      2.5,
      3.0,
      1e308 * 10,
      new Uint8Array([0, 255]),
    ];
    const insert = db.prepare("INSERT INTO t VALUES (?)");
    for (const value of values) insert.run(value);
    const read = db.prepare("SELECT v, typeof(v) AS type FROM t ORDER BY rowid");
    read.setReadBigInts(true);
    const before = read.all();
    const cells = db.prepare("SELECT v FROM t ORDER BY rowid");
    cells.setReadBigInts(true);
    const json = JSON.stringify(cells.all().map((row) => toCell(row.v)));
    db.exec("DELETE FROM t");
    for (const cell of JSON.parse(json)) insert.run(fromCell(cell));
    assert.deepEqual(read.all(), before);
  });

  it("accepts a well-formed record and names what is wrong with others", () => {
    assert.equal(recordProblem(RECORD), undefined);
    const broken = (patch: (r: any) => void) => {
      const r = structuredClone(RECORD) as any;
      patch(r);
      return recordProblem(r);
    };
    assert.match(broken((r) => (r.id = "xyz"))!, /no id/);
    assert.match(broken((r) => (r.kv[0][1] = "not base64!"))!, /kv entry 0/);
    assert.match(
      broken((r) => r.sql.tables[0].rows.push([1]))!,
      /row 1 of table t does not have 2 values/,
    );
    assert.match(broken((r) => (r.sql.tables[0].rows[0][1] = { real: "x" }))!, /\{ real \}/);
    assert.match(broken((r) => (r.sql.schema[0].type = "module"))!, /schema entry 0/);
    assert.throws(() => parseRecord("{", "f line 2"), /f line 2 is not JSON/);
    assert.throws(
      () => parseHeader(JSON.stringify({ format: "stead-export", version: 2, class: "A" }), "f"),
      /version 2; this Stead reads version 1/,
    );
  });
});

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import fc from "fast-check";
import { splitStatements } from "./sql-statements.ts";

describe("splitStatements", () => {
  it("splits on semicolons, trimming and dropping the terminator", () => {
    assert.deepEqual(splitStatements("SELECT 1"), ["SELECT 1"]);
    assert.deepEqual(splitStatements("  SELECT 1;  "), ["SELECT 1"]);
    assert.deepEqual(splitStatements("SELECT 1;SELECT 2"), ["SELECT 1", "SELECT 2"]);
    assert.deepEqual(splitStatements("\tSELECT 1 ;\n SELECT 2 ;\n"), ["SELECT 1", "SELECT 2"]);
    assert.deepEqual(splitStatements("INSERT INTO t VALUES (1);;; SELECT 2;;"), [
      "INSERT INTO t VALUES (1)",
      "SELECT 2",
    ]);
  });

  it("returns nothing for empty, blank and comment-only input", () => {
    for (const sql of [
      "",
      "   ",
      ";",
      " ; ;\n;",
      "-- note",
      "-- note;",
      "/* note */",
      "/* a; */ ; -- b\n;",
      "/* open",
    ]) {
      assert.deepEqual(splitStatements(sql), [], JSON.stringify(sql));
    }
  });

  it("keeps comments that belong to a statement", () => {
    assert.deepEqual(splitStatements("-- first\nSELECT 1"), ["-- first\nSELECT 1"]);
    assert.deepEqual(splitStatements("/* a */ SELECT 1; -- trailing"), ["/* a */ SELECT 1"]);
    assert.deepEqual(splitStatements("SELECT 1 -- x;\n; SELECT 2"), ["SELECT 1 -- x;", "SELECT 2"]);
    assert.deepEqual(splitStatements("SELECT 1 /* ; */; SELECT 2"), [
      "SELECT 1 /* ; */",
      "SELECT 2",
    ]);
    assert.deepEqual(splitStatements("SELECT 1 - -2; SELECT 4 / 2"), [
      "SELECT 1 - -2",
      "SELECT 4 / 2",
    ]);
    // A trailing `;` inside a comment belongs to the comment, fast path or not.
    assert.deepEqual(splitStatements("SELECT 1 -- c;"), ["SELECT 1 -- c;"]);
    assert.deepEqual(splitStatements("SELECT 1 /* c;"), ["SELECT 1 /* c;"]);
    assert.deepEqual(splitStatements("SELECT 1 -- c\n;"), ["SELECT 1 -- c"]);
  });

  it("ignores semicolons inside strings and quoted identifiers", () => {
    assert.deepEqual(splitStatements("SELECT 'it''s; fine'; SELECT 2"), [
      "SELECT 'it''s; fine'",
      "SELECT 2",
    ]);
    assert.deepEqual(splitStatements('SELECT "a;""b"; SELECT 2'), ['SELECT "a;""b"', "SELECT 2"]);
    assert.deepEqual(splitStatements("SELECT `a;b`, [c;d] ; SELECT x'3b'"), [
      "SELECT `a;b`, [c;d]",
      "SELECT x'3b'",
    ]);
  });

  it("leaves an unterminated string or comment to the last statement", () => {
    assert.deepEqual(splitStatements("SELECT 1; SELECT 'open; SELECT 2"), [
      "SELECT 1",
      "SELECT 'open; SELECT 2",
    ]);
    assert.deepEqual(splitStatements("SELECT 1; SELECT 2 /* open; x"), [
      "SELECT 1",
      "SELECT 2 /* open; x",
    ]);
    assert.deepEqual(splitStatements("SELECT 1; SELECT [open; x"), ["SELECT 1", "SELECT [open; x"]);
  });

  it("keeps a trigger body together up to `; END ;`", () => {
    const trigger =
      "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  INSERT INTO log VALUES (1);\n  DELETE FROM q;\nEND";
    assert.deepEqual(splitStatements(`${trigger}; SELECT 1;`), [trigger, "SELECT 1"]);
    assert.deepEqual(splitStatements(`SELECT 0; ${trigger} ; SELECT 1`), [
      "SELECT 0",
      trigger,
      "SELECT 1",
    ]);
    const comments =
      "create /* c */ temp -- c\n trigger tr before delete on t begin select 1 ; /* x */ end /* y */";
    assert.deepEqual(splitStatements(`${comments};select 2`), [comments, "select 2"]);
  });

  it("does not end a trigger at CASE ... END;", () => {
    const trigger =
      "CREATE TEMPORARY TRIGGER IF NOT EXISTS tr AFTER UPDATE ON t BEGIN UPDATE t SET b = CASE WHEN new.a > 0 THEN 'pos' ELSE 'neg' END; SELECT CASE 1 WHEN 1 THEN 'x' END ; END";
    assert.deepEqual(splitStatements(`${trigger};SELECT 1`), [trigger, "SELECT 1"]);
  });

  it("treats END/TRIGGER inside strings, identifiers and longer words as ordinary tokens", () => {
    const trigger = "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 'END;', [end;], endless; END";
    assert.deepEqual(splitStatements(`${trigger}; SELECT 2`), [trigger, "SELECT 2"]);
    assert.deepEqual(
      splitStatements("CREATE TABLE trigger_log (end_at); SELECT 1 AS end; SELECT 2"),
      ["CREATE TABLE trigger_log (end_at)", "SELECT 1 AS end", "SELECT 2"],
    );
    // Only CREATE at the start of a statement opens a trigger.
    assert.deepEqual(splitStatements("SELECT 'x' AS create_trigger; SELECT 2"), [
      "SELECT 'x' AS create_trigger",
      "SELECT 2",
    ]);
    assert.deepEqual(splitStatements("SELECT create, trigger FROM t; SELECT 2"), [
      "SELECT create, trigger FROM t",
      "SELECT 2",
    ]);
  });

  it("follows EXPLAIN into CREATE TRIGGER like sqlite3_complete", () => {
    const trigger = "EXPLAIN CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END";
    assert.deepEqual(splitStatements(`${trigger}; SELECT 2`), [trigger, "SELECT 2"]);
  });

  it("returns an unfinished trigger as one statement", () => {
    const trigger = "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; SELECT 2;";
    assert.deepEqual(splitStatements(trigger), [trigger]);
  });

  it("produces statements SQLite runs one by one", () => {
    const db = new DatabaseSync(":memory:");
    const script = `
      CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT); -- table
      CREATE TABLE log (msg TEXT);
      CREATE TRIGGER tr AFTER INSERT ON t BEGIN
        INSERT INTO log VALUES (CASE WHEN new.b LIKE '%;%' THEN 'semi' ELSE 'plain' END);
        INSERT INTO log VALUES ('end;');
      END;
      INSERT INTO t (b) VALUES ('a;b'); /* ; */ INSERT INTO t (b) VALUES ('c');`;
    const statements = splitStatements(script);
    assert.equal(statements.length, 5);
    for (const statement of statements) db.prepare(statement).run();
    const rows = db.prepare("SELECT msg FROM log ORDER BY rowid").all();
    assert.deepEqual(
      rows.map((row) => row.msg),
      ["semi", "end;", "plain", "end;"],
    );
  });

  it("agrees with itself across the single-statement fast path", () => {
    // Fragments that cannot combine into an open string or comment, and never open a trigger:
    // `a;b` must split into split(a) then split(b), whichever path each call takes.
    const fragment = fc.constantFrom(
      "SELECT 1",
      " ",
      "\n",
      "\t",
      "x",
      " - ",
      " / ",
      " * ",
      "'a;b'",
      "'it''s'",
      '"q;"',
      "`b;`",
      "[c;]",
      "-- c;\n",
      "/* ; */",
      ";",
      "end",
      "temp",
      "explain",
      "(",
      ")",
      "é",
    );
    const sql = fc.array(fragment, { maxLength: 12 }).map((parts) => parts.join(""));
    fc.assert(
      fc.property(sql, sql, (a, b) => {
        assert.deepEqual(splitStatements(`${a};${b}`), [
          ...splitStatements(a),
          ...splitStatements(b),
        ]);
      }),
      { numRuns: 2000 },
    );
  });

  it("runs in linear time, also on unterminated and pathological input", () => {
    const inputs = [
      "SELECT 'a;b', [c], \"d\" /* e; */ FROM t; -- f\n".repeat(25_000),
      "[".repeat(1_000_000),
      "'".repeat(1_000_000),
      "/*".repeat(500_000),
      "-".repeat(1_000_000),
      ";".repeat(1_000_000),
      `CREATE TRIGGER tr AFTER INSERT ON t BEGIN ${"SELECT END; ".repeat(80_000)} END`,
      "a".repeat(1_000_000),
    ];
    for (const input of inputs) {
      const started = performance.now();
      splitStatements(input);
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 1000, `${input.slice(0, 20)}... took ${elapsed} ms`);
    }
  });
});

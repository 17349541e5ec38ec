import assert from "node:assert/strict";
import { constants, DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { createSqlAuthorizer, TRANSACTION_MESSAGE } from "./sql-authorizer.ts";
import { splitStatements } from "./sql-statements.ts";

// A database holding the runtime's _cf_KV and a user table, with the authorizer in user mode.
function setup() {
  const db = new DatabaseSync(":memory:");
  const auth = createSqlAuthorizer();
  db.setAuthorizer(auth.callback);
  db.exec(`CREATE TABLE _cf_KV (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;
    INSERT INTO _cf_KV VALUES ('k', 'v');
    CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT);
    INSERT INTO t VALUES (1, 'one');`);
  auth.userMode = true;

  // Runs every statement of `sql`, returning the last one's rows as plain objects.
  const exec = (sql: string): unknown[] => {
    let rows: unknown[] = [];
    for (const statement of splitStatements(sql)) {
      rows = db
        .prepare(statement)
        .all()
        .map((row) => ({ ...row }));
    }
    return rows;
  };
  // Runs `sql` as user code, starting from a clean wrote/lastDenial.
  const run = (sql: string): unknown[] => {
    auth.wrote = false;
    auth.lastDenial = undefined;
    return exec(sql);
  };
  // Asserts that `sql` is denied with `message`: the Cloudflare-style text the authorizer
  // recorded, or SQLite's own text where the authorizer leaves it to SQLite (`_cf_` names).
  const denied = (sql: string, message: string): void => {
    let thrown: unknown;
    assert.throws(
      () => {
        try {
          run(sql);
        } catch (error) {
          thrown = error;
          throw error;
        }
      },
      /not authorized|prohibited/,
      sql,
    );
    assert.equal(auth.lastDenial ?? (thrown as Error).message, message, sql);
  };
  // Runs `sql` as the runtime itself.
  const trusted = (sql: string): unknown[] => {
    auth.userMode = false;
    try {
      return exec(sql);
    } finally {
      auth.userMode = true;
    }
  };
  const kv = () => trusted("SELECT key, value FROM _cf_KV");
  return { db, auth, run, denied, trusted, kv };
}

const KV = [{ key: "k", value: "v" }];

describe("callback", () => {
  it("denies unknown actions and missing arguments instead of throwing", () => {
    const auth = createSqlAuthorizer();
    auth.userMode = true;
    assert.equal(auth.callback(9999, null, null, null, null), constants.SQLITE_DENY);
    assert.equal(
      auth.callback(constants.SQLITE_PRAGMA, null, null, null, null),
      constants.SQLITE_DENY,
    );
    assert.equal(auth.callback(constants.SQLITE_READ, null, null, null, null), constants.SQLITE_OK);
  });
});

describe("runtime mode", () => {
  it("allows everything, hidden tables included, without touching wrote or lastDenial", () => {
    const { db, auth, kv } = setup();
    auth.userMode = false;
    db.exec(`BEGIN; INSERT INTO _cf_KV VALUES ('a', 1); SAVEPOINT s; RELEASE s; COMMIT;
      CREATE TEMP TABLE scratch (x); PRAGMA journal_mode; PRAGMA writable_schema;
      ATTACH ':memory:' AS other; DETACH other;
      CREATE INDEX _cf_KV_value ON _cf_KV (value); DROP INDEX _cf_KV_value;
      UPDATE _cf_KV SET value = 2 WHERE key = 'a'; DELETE FROM _cf_KV WHERE key = 'a';`);
    assert.equal(auth.wrote, false);
    assert.equal(auth.lastDenial, undefined);
    assert.deepEqual(kv(), KV);
  });
});

describe("transactions", () => {
  it("denies BEGIN, COMMIT, ROLLBACK, SAVEPOINT and RELEASE with Cloudflare's exact text", () => {
    const { denied } = setup();
    const sql = "BEGIN; BEGIN TRANSACTION; BEGIN IMMEDIATE; COMMIT; END; ROLLBACK; SAVEPOINT sp;";
    for (const statement of splitStatements(`${sql} RELEASE sp; ROLLBACK TO sp`)) {
      denied(statement, TRANSACTION_MESSAGE);
    }
    assert.equal(
      TRANSACTION_MESSAGE,
      "To execute a transaction, please use the state.storage.transaction() or state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements. The JavaScript API is safer because it will automatically roll back on exceptions, and because it interacts correctly with Durable Objects' automatic atomic write coalescing.",
    );
  });
});

describe("_cf_ names", () => {
  it("denies column reads and writes with table.column in the message", () => {
    const { denied, kv } = setup();
    denied("SELECT * FROM _cf_KV", "access to _cf_KV.key is prohibited");
    denied("SELECT value FROM t, _cf_KV", "access to _cf_KV.value is prohibited");
    denied("UPDATE _cf_KV SET value = 'x'", "not authorized");
    assert.deepEqual(kv(), KV);
  });

  it("denies scans that read no column, and any spelling of the prefix", () => {
    const { denied } = setup();
    denied("SELECT count(*) FROM _cf_KV", "not authorized");
    denied("SELECT EXISTS (SELECT 1 FROM _CF_kv)", "not authorized");
    denied("SELECT * FROM pragma_table_info('_cf_KV')", "not authorized");
  });

  it("denies writes and DDL on hidden tables, leaving them intact", () => {
    const { denied, kv, trusted } = setup();
    denied("INSERT INTO _cf_KV VALUES ('x', 1)", "not authorized");
    denied("DELETE FROM _cf_KV", "not authorized");
    denied("DROP TABLE _cf_KV", "not authorized");
    denied("ALTER TABLE _cf_KV ADD COLUMN c", "not authorized");
    denied("ALTER TABLE _cf_KV RENAME TO mine", "not authorized");
    denied("CREATE INDEX mine ON _cf_KV (value)", "not authorized");
    denied("CREATE TRIGGER mine AFTER INSERT ON _cf_KV BEGIN SELECT 1; END", "not authorized");
    assert.deepEqual(kv(), KV);
    assert.equal(trusted("SELECT sql FROM sqlite_master WHERE name = '_cf_KV'").length, 1);
  });

  it("denies creating objects in the reserved namespace", () => {
    const { denied } = setup();
    denied("CREATE TABLE _cf_mine (x)", "not authorized");
    denied("CREATE TABLE _CF_Mine (x)", "not authorized");
    denied("CREATE INDEX _cf_idx ON t (b)", "not authorized");
    denied("CREATE VIEW _cf_view AS SELECT 1", "not authorized");
    denied("CREATE TRIGGER _cf_trg AFTER INSERT ON t BEGIN SELECT 1; END", "not authorized");
    denied("CREATE VIRTUAL TABLE _cf_fts USING fts5 (x)", "not authorized");
  });

  it("cannot see the new name of ALTER TABLE ... RENAME TO (SQLite does not pass it)", () => {
    const { run, denied } = setup();
    run("ALTER TABLE t RENAME TO _cf_t");
    denied("SELECT * FROM _cf_t", "access to _cf_t.a is prohibited");
    // Existing hidden tables are safe: SQLite refuses the clash itself.
    run("CREATE TABLE u (x)");
    assert.throws(() => run("ALTER TABLE u RENAME TO _cf_KV"), /already another table/);
  });

  it("denies reaching hidden tables through views, triggers and FTS5 content tables", () => {
    const { run, denied, kv, trusted } = setup();
    run("CREATE VIEW peek AS SELECT * FROM _cf_KV");
    denied("SELECT * FROM peek", "access to _cf_KV.key is prohibited");
    run("CREATE TRIGGER wipe AFTER INSERT ON t BEGIN DELETE FROM _cf_KV; END");
    denied("INSERT INTO t VALUES (2, 'two')", "not authorized");
    assert.deepEqual(run("SELECT count(*) AS n FROM t"), [{ n: 1 }]);
    trusted("CREATE TABLE _cf_meta (name TEXT); INSERT INTO _cf_meta VALUES ('secret')");
    run("CREATE VIRTUAL TABLE leak USING fts5 (name, content = '_cf_meta')");
    denied("SELECT * FROM leak", "access to _cf_meta.ROWID is prohibited");
    assert.deepEqual(kv(), KV);
  });

  it("allows reading the schema, including hidden tables' rows", () => {
    const { run } = setup();
    const names = (sql: string) => run(sql).map((row) => (row as { name: string }).name);
    assert.deepEqual(names("SELECT name FROM sqlite_master ORDER BY name"), ["_cf_KV", "t"]);
    assert.equal(names("SELECT * FROM sqlite_schema").length, 2);
    assert.equal(names("SELECT * FROM temp.sqlite_master").length, 0);
    // Writing the schema table directly is refused by SQLite itself.
    assert.throws(() => run("DELETE FROM sqlite_master"), /may not be modified/);
  });
});

describe("attach, detach and temp objects", () => {
  it("denies ATTACH and DETACH", () => {
    const { denied } = setup();
    denied("ATTACH ':memory:' AS other", "not authorized to use ATTACH or DETACH");
    denied("DETACH other", "not authorized to use ATTACH or DETACH");
  });

  it("denies creating TEMP tables, indexes, views and triggers", () => {
    const { denied } = setup();
    const message = "not authorized to use TEMP tables, indexes, triggers or views";
    denied("CREATE TEMP TABLE scratch (x)", message);
    denied("CREATE TEMPORARY TABLE scratch AS SELECT 1", message);
    denied("CREATE TEMP VIEW v AS SELECT 1", message);
    denied("CREATE TEMP TRIGGER trg AFTER INSERT ON t BEGIN SELECT 1; END", message);
    denied("PRAGMA temp.foreign_keys", message);
  });

  it("denies dropping TEMP objects the runtime created", () => {
    const { denied, trusted } = setup();
    trusted("CREATE TEMP TABLE scratch (x)");
    trusted("CREATE INDEX temp.scratch_x ON scratch (x)");
    trusted("CREATE TEMP VIEW tv AS SELECT 1");
    trusted("CREATE TEMP TRIGGER tt AFTER INSERT ON scratch BEGIN SELECT 1; END");
    const message = "not authorized to use TEMP tables, indexes, triggers or views";
    denied("DROP TRIGGER tt", message);
    denied("DROP VIEW tv", message);
    denied("DROP INDEX scratch_x", message);
    denied("DROP TABLE scratch", message);
    denied("INSERT INTO scratch VALUES (1)", message);
    assert.equal(trusted("SELECT name FROM temp.sqlite_master").length, 4);
  });
});

describe("virtual tables", () => {
  it("allows FTS5 create, insert, match, auxiliary functions, commands and drop", () => {
    const { run } = setup();
    run("CREATE VIRTUAL TABLE docs USING fts5 (title, body)");
    run("INSERT INTO docs VALUES ('greeting', 'hello world'), ('other', 'goodbye moon')");
    assert.deepEqual(run("SELECT title FROM docs WHERE docs MATCH 'hello'"), [
      { title: "greeting" },
    ]);
    const [row] = run(
      "SELECT highlight(docs, 1, '[', ']') AS h, snippet(docs, 1, '<', '>', '…', 4) AS s, bm25(docs) AS r FROM docs WHERE docs MATCH 'moon' ORDER BY rank",
    ) as { h: string; s: string; r: number }[];
    assert.equal(row?.h, "goodbye [moon]");
    assert.equal(row?.s, "goodbye <moon>");
    run("INSERT INTO docs (docs) VALUES ('optimize')");
    run("UPDATE docs SET body = 'hello again' WHERE title = 'other'");
    run("DELETE FROM docs WHERE title = 'greeting'");
    assert.deepEqual(run("SELECT title FROM docs WHERE docs MATCH 'hello'"), [{ title: "other" }]);
    run("DROP TABLE docs");
    assert.deepEqual(run("SELECT name FROM sqlite_master WHERE name LIKE 'docs%'"), []);
  });

  it("allows fts5vocab", () => {
    const { run } = setup();
    run("CREATE VIRTUAL TABLE docs USING fts5 (body); INSERT INTO docs VALUES ('a b a')");
    run("CREATE VIRTUAL TABLE vocab USING fts5vocab (docs, row)");
    assert.deepEqual(run("SELECT term, doc, cnt FROM vocab ORDER BY term"), [
      { term: "a", doc: 1, cnt: 2 },
      { term: "b", doc: 1, cnt: 1 },
    ]);
    run("DROP TABLE vocab");
  });

  it("denies other modules", () => {
    const { denied } = setup();
    denied(
      "CREATE VIRTUAL TABLE r USING rtree (id, x0, x1)",
      "not authorized to use virtual table module rtree",
    );
  });
});

describe("pragmas", () => {
  it("allows the allow-listed pragmas", () => {
    const { run } = setup();
    run("CREATE TABLE child (id INTEGER PRIMARY KEY, a INTEGER REFERENCES t (a))");
    run("CREATE INDEX child_a ON child (a)");
    assert.ok(run("PRAGMA table_list").length >= 3);
    assert.deepEqual(
      run("PRAGMA table_info(t)").map((c) => (c as { name: string }).name),
      ["a", "b"],
    );
    assert.equal(run("PRAGMA main.table_xinfo('t')").length, 2);
    assert.equal(run("SELECT name FROM pragma_table_info('t')").length, 2);
    assert.equal(run("PRAGMA data_version").length, 1);
    const toggles = "case_sensitive_like foreign_keys defer_foreign_keys ignore_check_constraints";
    for (const name of `${toggles} legacy_alter_table recursive_triggers reverse_unordered_selects`.split(
      " ",
    )) {
      run(`PRAGMA ${name}`);
      run(`PRAGMA ${name} = ON; PRAGMA ${name} = 'false'; PRAGMA ${name.toUpperCase()} = 1`);
    }
    assert.equal(run("PRAGMA foreign_key_list(child)").length, 1);
    assert.equal(run("PRAGMA index_list(child)").length, 1);
    assert.equal(run("PRAGMA index_info(child_a)").length, 1);
    assert.equal(run("PRAGMA index_xinfo(child_a)").length, 2);
    assert.deepEqual(run("PRAGMA foreign_key_check"), []);
    assert.deepEqual(run("PRAGMA foreign_key_check(child)"), []);
    assert.deepEqual(run("PRAGMA quick_check"), [{ quick_check: "ok" }]);
    assert.deepEqual(run("PRAGMA quick_check(5)"), [{ quick_check: "ok" }]);
    run("PRAGMA optimize");
    run("PRAGMA optimize(0x10002)");
  });

  it("reads and sets user_version", () => {
    const { run, denied } = setup();
    assert.deepEqual(run("PRAGMA user_version"), [{ user_version: 0 }]);
    run("PRAGMA user_version = 7");
    assert.deepEqual(run("PRAGMA user_version"), [{ user_version: 7 }]);
    denied("PRAGMA user_version = 'seven'", "not authorized to use pragma user_version(seven)");
  });

  it("denies everything else, naming the pragma", () => {
    const { denied } = setup();
    denied("PRAGMA journal_mode", "not authorized to use pragma journal_mode");
    denied("PRAGMA journal_mode = DELETE", "not authorized to use pragma journal_mode(DELETE)");
    denied("PRAGMA writable_schema = 1", "not authorized to use pragma writable_schema(1)");
    denied("PRAGMA cache_size", "not authorized to use pragma cache_size");
    denied("PRAGMA integrity_check", "not authorized to use pragma integrity_check");
    denied("PRAGMA data_version = 3", "not authorized to use pragma data_version(3)");
    denied("PRAGMA foreign_keys = maybe", "not authorized to use pragma foreign_keys(maybe)");
    denied("PRAGMA table_info", "not authorized to use pragma table_info");
    denied("PRAGMA index_list", "not authorized to use pragma index_list");
    denied("SELECT * FROM pragma_compile_options", "not authorized to use pragma compile_options");
    denied("PRAGMA table_info(_cf_KV)", "not authorized");
    denied("PRAGMA index_list(_cf_KV)", "not authorized");
  });
});

describe("ordinary SQL in user mode", () => {
  it("runs DDL, triggers, views, ALTER TABLE, CTEs and built-in functions", () => {
    const { run } = setup();
    run("CREATE TABLE log (msg TEXT)");
    run(
      "CREATE TRIGGER on_t AFTER INSERT ON t BEGIN INSERT INTO log VALUES (CASE WHEN new.a > 1 THEN 'big' ELSE 'small' END); END;",
    );
    run("INSERT INTO t VALUES (2, 'two')");
    assert.deepEqual(run("SELECT msg FROM log"), [{ msg: "big" }]);
    run("CREATE VIEW names AS SELECT upper(b) AS name FROM t");
    assert.deepEqual(run("SELECT name FROM names ORDER BY name"), [
      { name: "ONE" },
      { name: "TWO" },
    ]);
    run(`ALTER TABLE t ADD COLUMN c INTEGER DEFAULT 0; ALTER TABLE t RENAME COLUMN c TO d;
      ALTER TABLE t DROP COLUMN d; ALTER TABLE log RENAME TO history`);
    run("CREATE INDEX t_b ON t (b); REINDEX t_b; REINDEX; ANALYZE; ANALYZE t; DROP INDEX t_b");
    assert.deepEqual(
      run(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) SELECT sum(i) AS s FROM n",
      ),
      [{ s: 6 }],
    );
    assert.deepEqual(
      run(`SELECT json_extract('{"a":2}', '$.a') AS j, '{"a":3}' ->> '$.a' AS k, sqrt(16) AS r,
        row_number() OVER () AS w`),
      [{ j: 2, k: 3, r: 4, w: 1 }],
    );
    run("DROP TRIGGER on_t; DROP VIEW names; DROP TABLE history");
  });

  it("skips hidden tables in bare ANALYZE and REINDEX instead of failing", () => {
    const { run, trusted } = setup();
    run("ANALYZE");
    assert.deepEqual(trusted("SELECT DISTINCT tbl FROM sqlite_stat1"), [{ tbl: "t" }]);
    run("ANALYZE _cf_KV");
    run("REINDEX _cf_KV");
  });
});

describe("wrote", () => {
  const reads = `SELECT * FROM t; SELECT * FROM sqlite_master; PRAGMA table_info(t);
    PRAGMA user_version; PRAGMA foreign_keys = ON; SELECT * FROM docs WHERE docs MATCH 'a';
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) SELECT i FROM n`;
  const writes = `INSERT INTO t (b) VALUES ('x'); UPDATE t SET b = 'y'; DELETE FROM t;
    CREATE TABLE u (x); CREATE INDEX t_b ON t (b); CREATE VIEW v AS SELECT 1; DROP TABLE t;
    ALTER TABLE t ADD COLUMN z; ANALYZE; REINDEX; PRAGMA user_version = 3; PRAGMA optimize;
    INSERT INTO docs VALUES ('b'); CREATE VIRTUAL TABLE more USING fts5 (x); DROP TABLE docs`;
  const cases = [
    ...splitStatements(reads).map((sql) => [sql, false] as const),
    ...splitStatements(writes).map((sql) => [sql, true] as const),
  ];
  for (const [sql, wrote] of cases) {
    it(`is ${wrote} after preparing ${sql.replace(/\s+/g, " ")}`, () => {
      const { db, auth, trusted } = setup();
      trusted("CREATE VIRTUAL TABLE docs USING fts5 (body)");
      auth.wrote = false;
      db.prepare(sql);
      assert.equal(auth.wrote, wrote);
    });
  }
});

// The SQL API as an app sees it (reference §4 and the SQL rows of §13): exec and its cursor,
// type mapping, the authorizer with Cloudflare's error texts, FTS5, triggers, databaseSize, and
// SQL data outliving the object and the process.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SqlStorage } from "../../src/index.ts";
import { ManualClock } from "../../src/index.ts";
import { failureOf } from "../support/errors.ts";
import { testStore } from "../support/storage.ts";
import { inObject, startStorageRuntime } from "../support/storage-harness.ts";

const TRANSACTION_MESSAGE =
  "To execute a transaction, please use the state.storage.transaction() or state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements. The JavaScript API is safer because it will automatically roll back on exceptions, and because it interacts correctly with Durable Objects' automatic atomic write coalescing.";

/** Runs `fn` with the SQL API of a fresh object. */
async function withSql<R>(fn: (sql: SqlStorage) => R | Promise<R>): Promise<R> {
  await using rt = await startStorageRuntime();
  return await inObject(rt, "sql", (_, ctx) => fn(ctx.storage.sql));
}

function seed(sql: SqlStorage): void {
  sql.exec(`
    CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL);
    INSERT INTO users (name, score) VALUES ('ada', 9.5), ('bob', 7), ('cyd', NULL);
  `);
}

describe("sql.exec()", () => {
  it("binds positional parameters", async () => {
    await withSql((sql) => {
      seed(sql);
      sql.exec("INSERT INTO users (name, score) VALUES (?, ?)", "dee", 1.25);
      assert.deepEqual(sql.exec("SELECT name, score FROM users WHERE name = ?", "dee").one(), {
        name: "dee",
        score: 1.25,
      });
      assert.deepEqual(
        sql
          .exec("SELECT name FROM users WHERE score > ? AND name <> ? ORDER BY id", 5, "bob")
          .toArray(),
        [{ name: "ada" }],
      );
      // Numbered parameters, null and undefined (both NULL).
      assert.deepEqual(
        sql.exec("SELECT ?2 AS b, ?1 AS a, ? AS n, ? AS u", "A", "B", null, undefined).one(),
        {
          b: "B",
          a: "A",
          n: null,
          u: null,
        },
      );
    });
  });

  it("runs every statement of a multi-statement query and returns the last one's cursor", async () => {
    await withSql((sql) => {
      const cursor = sql.exec(
        `
        CREATE TABLE log (n INTEGER);
        INSERT INTO log VALUES (1); INSERT INTO log VALUES (2);
        SELECT 'discarded' AS x;
        SELECT n FROM log WHERE n >= ? ORDER BY n
      `,
        2,
      );
      assert.deepEqual(cursor.columnNames, ["n"]);
      assert.deepEqual(cursor.toArray(), [{ n: 2 }]);
      assert.equal(sql.exec("SELECT count(*) AS c FROM log").one().c, 2);
      // Semicolons inside strings, comments and trigger bodies do not split statements.
      assert.deepEqual(sql.exec("SELECT 'a;b' AS s; -- x;\nSELECT ';' /* ; */ AS t").toArray(), [
        { t: ";" },
      ]);
    });
  });

  it("reads double-quoted words that name no column as strings, in DML and DDL (workerd's SQLite)", async () => {
    await withSql((sql) => {
      assert.deepEqual(sql.exec(`SELECT "foo" AS col`).one(), { col: "foo" });
      const cursor = sql.exec(`
        CREATE TABLE items (i INTEGER, s TEXT DEFAULT "none" CHECK (s <> "bad"));
        CREATE INDEX items_s ON items (s);
        INSERT INTO items VALUES (123, "abc");
        INSERT INTO items (i) VALUES (456);
        SELECT i, s FROM items WHERE s = "abc" OR s = "none" ORDER BY i
      `);
      assert.deepEqual(cursor.toArray(), [
        { i: 123, s: "abc" },
        { i: 456, s: "none" },
      ]);
      assert.throws(() => sql.exec(`INSERT INTO items VALUES (1, "bad")`), /CHECK constraint/);
      // A double-quoted word that names a column is still the column.
      assert.deepEqual(sql.exec(`SELECT "i" FROM items WHERE "s" = 'abc'`).one(), { i: 123 });
    });
  });

  it("only lets the last statement take parameters", async () => {
    await withSql((sql) => {
      sql.exec("CREATE TABLE t (x)");
      const message =
        "When executing multiple SQL statements in a single call, only the last statement can have parameters.";
      assert.throws(() => sql.exec("INSERT INTO t VALUES (?); SELECT 1", 1), { message });
      assert.throws(
        () => sql.exec("INSERT INTO t VALUES (1); INSERT INTO t VALUES (?); SELECT 1", 2),
        {
          message,
        },
      );
      // The statement before the one with parameters ran; nothing after it did.
      assert.deepEqual(sql.exec("SELECT x FROM t").toArray(), [{ x: 1 }]);
      assert.deepEqual(
        sql.exec("INSERT INTO t VALUES (2); SELECT x FROM t WHERE x = ?", 2).toArray(),
        [{ x: 2 }],
      );
    });
  });

  it("rejects SQL that contains no statement", async () => {
    await withSql((sql) => {
      for (const query of [
        "",
        "   ",
        ";",
        " ; ;",
        "-- just a comment",
        "/* block */",
        "\n-- a\n/* b */\n",
      ]) {
        assert.throws(
          () => sql.exec(query),
          { message: "SQL code did not contain a statement." },
          JSON.stringify(query),
        );
      }
    });
  });

  it("reports syntax errors from SQLite", async () => {
    await withSql((sql) => {
      assert.throws(() => sql.exec("SELEC 1"), { message: /near "SELEC": syntax error/ });
      assert.throws(() => sql.exec("SELECT * FROM nowhere"), { message: /no such table: nowhere/ });
    });
  });
});

describe("cursor", () => {
  it("toArray() returns every remaining row as an object", async () => {
    await withSql((sql) => {
      seed(sql);
      const cursor = sql.exec("SELECT id, name FROM users ORDER BY id");
      assert.deepEqual(cursor.next(), { done: false, value: { id: 1, name: "ada" } });
      assert.deepEqual(cursor.toArray(), [
        { id: 2, name: "bob" },
        { id: 3, name: "cyd" },
      ]);
      assert.deepEqual(cursor.toArray(), []);
      assert.deepEqual(cursor.next(), { done: true });
    });
  });

  it("one() returns the only row, and throws Cloudflare's errors for none or several", async () => {
    await withSql((sql) => {
      seed(sql);
      assert.deepEqual(sql.exec("SELECT name FROM users WHERE id = ?", 2).one(), { name: "bob" });
      assert.throws(() => sql.exec("SELECT name FROM users WHERE id = ?", 99).one(), {
        message: "Expected exactly one result from SQL query, but got no results.",
      });
      assert.throws(() => sql.exec("SELECT name FROM users").one(), {
        message: "Expected exactly one result from SQL query, but got multiple results.",
      });
      // An INSERT without RETURNING has no row.
      assert.throws(() => sql.exec("INSERT INTO users (name) VALUES ('eve')").one(), {
        message: "Expected exactly one result from SQL query, but got no results.",
      });
      assert.deepEqual(sql.exec("INSERT INTO users (name) VALUES ('fay') RETURNING id").one(), {
        id: 5,
      });
    });
  });

  it("iterates with next(), for...of and raw()", async () => {
    await withSql((sql) => {
      seed(sql);
      const names: unknown[] = [];
      for (const row of sql.exec("SELECT name FROM users ORDER BY id")) names.push(row.name);
      assert.deepEqual(names, ["ada", "bob", "cyd"]);

      const raw = sql.exec("SELECT id, name FROM users ORDER BY id").raw();
      assert.deepEqual(
        [...raw],
        [
          [1, "ada"],
          [2, "bob"],
          [3, "cyd"],
        ],
      );

      const cursor = sql.exec("SELECT id FROM users ORDER BY id DESC");
      const seen: unknown[] = [];
      for (let step = cursor.next(); !step.done; step = cursor.next()) seen.push(step.value.id);
      assert.deepEqual(seen, [3, 2, 1]);
    });
  });

  it("raw() and the object iterator share one position and can be interleaved", async () => {
    await withSql((sql) => {
      sql.exec("CREATE TABLE n (v INTEGER); INSERT INTO n VALUES (1), (2), (3), (4), (5)");
      const cursor = sql.exec("SELECT v, v * 10 AS ten FROM n ORDER BY v");
      const raw = cursor.raw();
      const objects = cursor[Symbol.iterator]();
      assert.deepEqual(raw.next().value, [1, 10]);
      assert.deepEqual(objects.next().value, { v: 2, ten: 20 });
      assert.deepEqual(raw.next().value, [3, 30]);
      assert.deepEqual(cursor.next().value, { v: 4, ten: 40 });
      assert.deepEqual(cursor.toArray(), [{ v: 5, ten: 50 }]);
      assert.equal(raw.next().done, true);
      assert.equal(objects.next().done, true);
    });
  });

  it("columnNames lists the result columns in order, duplicates included", async () => {
    await withSql((sql) => {
      sql.exec(`
        CREATE TABLE a (id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER, name TEXT);
        INSERT INTO a VALUES (1, 'left'); INSERT INTO b VALUES (7, 1, 'right');
      `);
      const cursor = sql.exec("SELECT a.id, a.name, b.id, b.name FROM a JOIN b ON b.a_id = a.id");
      assert.deepEqual(cursor.columnNames, ["id", "name", "id", "name"]);
      assert.deepEqual([...cursor.raw()], [[1, "left", 7, "right"]]);
      // As objects, a later duplicate column overwrites an earlier one.
      assert.deepEqual(sql.exec("SELECT a.id, b.id FROM a JOIN b ON b.a_id = a.id").one(), {
        id: 7,
      });
      assert.deepEqual(sql.exec("SELECT 1 AS x, 2 AS y").columnNames, ["x", "y"]);
      assert.deepEqual(sql.exec("CREATE TABLE c (z)").columnNames, []);
    });
  });

  it("rowsRead grows as rows are read; rowsWritten counts rows written", async () => {
    await withSql((sql) => {
      sql.exec("CREATE TABLE t (v INTEGER)");
      const insert = sql.exec("INSERT INTO t VALUES (1), (2), (3)");
      assert.equal(insert.rowsWritten, 3);
      const update = sql.exec("UPDATE t SET v = v + 10 WHERE v >= 2");
      assert.equal(update.rowsWritten, 2);
      const returning = sql.exec("DELETE FROM t WHERE v = 1 RETURNING v");
      assert.equal(returning.rowsWritten, 1);
      assert.deepEqual(returning.toArray(), [{ v: 1 }]);

      const select = sql.exec("SELECT v FROM t ORDER BY v");
      assert.equal(select.rowsRead, 0, "the cursor is lazy");
      select.next();
      assert.equal(select.rowsRead, 1);
      select.toArray();
      assert.equal(select.rowsRead, 2);
      assert.equal(select.rowsWritten, 0);
    });
  });

  it("running the same query text again closes the earlier cursor with a clear error", async () => {
    await withSql((sql) => {
      sql.exec("CREATE TABLE t (v); INSERT INTO t VALUES (1), (2)");
      const first = sql.exec("SELECT v FROM t");
      first.next();
      const second = sql.exec("SELECT v FROM t");
      assert.throws(() => first.next(), {
        message: /SQL cursor was closed because the same statement was executed again/,
      });
      assert.deepEqual(second.toArray(), [{ v: 1 }, { v: 2 }]);
      // Different text (even only a comment) gives an independent cursor.
      const a = sql.exec("SELECT v FROM t ORDER BY v");
      const b = sql.exec("SELECT v FROM t ORDER BY v -- b");
      assert.deepEqual(
        [a.next().value, b.next().value, a.next().value],
        [{ v: 1 }, { v: 1 }, { v: 2 }],
      );
    });
  });
});

describe("SQL values", () => {
  it("maps INTEGER and REAL to number, TEXT to string, NULL to null, BLOB to ArrayBuffer", async () => {
    await withSql((sql) => {
      sql.exec("CREATE TABLE v (i INTEGER, r REAL, t TEXT, n, b BLOB)");
      sql.exec(
        "INSERT INTO v VALUES (?, ?, ?, ?, ?)",
        42,
        2.5,
        "héllo \u{1F600}",
        null,
        new Uint8Array([0, 1, 255]),
      );
      const row = sql
        .exec("SELECT i, r, t, n, b, typeof(i) AS ti, typeof(r) AS tr, typeof(b) AS tb FROM v")
        .one();
      assert.equal(row.i, 42);
      assert.equal(row.r, 2.5);
      assert.equal(row.t, "héllo \u{1F600}");
      assert.equal(row.n, null);
      assert.ok(row.b instanceof ArrayBuffer);
      assert.deepEqual(new Uint8Array(row.b), new Uint8Array([0, 1, 255]));
      assert.deepEqual([row.ti, row.tr, row.tb], ["integer", "real", "blob"]);
      // Numbers bind as doubles: an integral one is stored in an INTEGER column as an integer.
      assert.equal(sql.exec("SELECT typeof(?) AS t", 3).one().t, "real");
      assert.equal(sql.exec("SELECT 7 / 2 AS q, 7.0 / 2 AS r, 1 = 1 AS yes").one().q, 3);
      assert.deepEqual(sql.exec("SELECT 7.0 / 2 AS r, 1 = 1 AS yes").one(), { r: 3.5, yes: 1 });
    });
  });

  it("returns 64-bit integers as the nearest double, losing precision above 2^53", async () => {
    await withSql((sql) => {
      const row = sql
        .exec(
          "SELECT 9007199254740993 AS big, -9223372036854775808 AS min, 9223372036854775807 AS max",
        )
        .one();
      assert.equal(row.big, 9007199254740992);
      assert.equal(row.min, -(2 ** 63));
      assert.equal(row.max, 2 ** 63);
      assert.equal(typeof row.big, "number");
      sql.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)");
      sql.exec("INSERT INTO t VALUES (9007199254740993)");
      assert.deepEqual([...sql.exec("SELECT id FROM t").raw()], [[9007199254740992]]);
    });
  });

  it("binds ArrayBuffer, Uint8Array and other views as BLOBs of exactly their bytes", async () => {
    await withSql((sql) => {
      sql.exec("CREATE TABLE b (k TEXT, v BLOB)");
      const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
      sql.exec("INSERT INTO b VALUES ('buffer', ?)", new Uint8Array([1, 2]).buffer);
      sql.exec("INSERT INTO b VALUES ('bytes', ?)", new Uint8Array([3, 4, 5]));
      sql.exec("INSERT INTO b VALUES ('view', ?)", backing.subarray(2, 5));
      sql.exec("INSERT INTO b VALUES ('u16', ?)", new Uint16Array([0x0102]));
      sql.exec("INSERT INTO b VALUES ('empty', ?)", new ArrayBuffer(0));
      const rows = sql.exec("SELECT k, v, typeof(v) AS t FROM b").toArray();
      const bytes = Object.fromEntries(
        rows.map((r) => [r.k, [...new Uint8Array(r.v as ArrayBuffer)]]),
      );
      assert.deepEqual(bytes, {
        buffer: [1, 2],
        bytes: [3, 4, 5],
        view: [1, 2, 3],
        u16: [...new Uint8Array(new Uint16Array([0x0102]).buffer)],
        empty: [],
      });
      assert.ok(rows.every((r) => r.t === "blob"));
      // Each read is a fresh ArrayBuffer.
      const first = sql.exec("SELECT v FROM b WHERE k = 'bytes'").one().v as ArrayBuffer;
      new Uint8Array(first)[0] = 0;
      assert.deepEqual(
        [...new Uint8Array(sql.exec("SELECT v FROM b WHERE k = 'bytes'").one().v as ArrayBuffer)],
        [3, 4, 5],
      );
    });
  });
});

describe("authorizer", () => {
  it("rejects SQL transaction statements with Cloudflare's message", async () => {
    await withSql((sql) => {
      sql.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)");
      for (const query of [
        "BEGIN",
        "BEGIN TRANSACTION",
        "BEGIN IMMEDIATE",
        "COMMIT",
        "END",
        "ROLLBACK",
        "SAVEPOINT sp",
        "RELEASE sp",
        "ROLLBACK TO sp",
      ]) {
        assert.throws(
          () => sql.exec(query),
          { message: `${TRANSACTION_MESSAGE}: SQLITE_AUTH` },
          query,
        );
      }
      assert.throws(() => sql.exec("INSERT INTO t VALUES (2); BEGIN; INSERT INTO t VALUES (3)"), {
        message: `${TRANSACTION_MESSAGE}: SQLITE_AUTH`,
      });
      assert.deepEqual(sql.exec("SELECT x FROM t ORDER BY x").toArray(), [{ x: 1 }, { x: 2 }]);
    });
  });

  it("denies ATTACH and DETACH", async () => {
    await withSql((sql) => {
      assert.throws(() => sql.exec("ATTACH DATABASE ':memory:' AS other"), {
        message: "not authorized to use ATTACH or DETACH: SQLITE_AUTH",
      });
      assert.throws(() => sql.exec("DETACH DATABASE other"), {
        message: /SQLITE_AUTH|no such database/,
      });
    });
  });

  it("hides the runtime's _cf_ tables: KV data is not reachable from user SQL", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "hidden", async (_, ctx) => {
      await ctx.storage.put("secret", "kv value");
      const sql = ctx.storage.sql;
      for (const query of [
        "SELECT * FROM _cf_KV",
        "SELECT count(*) FROM _cf_KV",
        "SELECT value FROM _cf_KV WHERE key = 'secret'",
        "SELECT * FROM _cf_METADATA",
        "INSERT INTO _cf_KV VALUES ('x', x'00')",
        "UPDATE _cf_KV SET value = NULL",
        "DELETE FROM _cf_KV",
        "DROP TABLE _cf_KV",
        "CREATE TABLE _cf_mine (x)",
        "CREATE INDEX i ON _cf_KV (value)",
        "CREATE TRIGGER t AFTER DELETE ON _cf_KV BEGIN SELECT 1; END",
        "CREATE VIEW _cf_view AS SELECT 1",
        "ALTER TABLE _cf_KV ADD COLUMN y",
        "PRAGMA table_info(_cf_KV)",
        // The prefix in any letter case, as workerd compares it.
        "CREATE TABLE _CF_test (x)",
        "CREATE TABLE _Cf_x (x)",
        "CREATE TABLE _cF_x (x)",
        "CREATE VIRTUAL TABLE _CF_fts USING fts5 (content)",
        "SELECT * FROM _CF_kv",
      ]) {
        // SQLite's own texts, as workerd reports them: a column read names the column, any
        // other use of a hidden name is "not authorized".
        const error = await failureOf(() => sql.exec(query).toArray());
        assert.match(
          error.message,
          /^(access to _cf_\w+\.\w+ is prohibited|not authorized): SQLITE_AUTH$/i,
          query,
        );
      }
      sql.exec("CREATE VIRTUAL TABLE my_fts USING fts5 (content)");
      sql.exec("DROP TABLE my_fts");
      assert.equal(
        (await failureOf(() => sql.exec("SELECT value FROM _cf_KV"))).message,
        "access to _cf_KV.value is prohibited: SQLITE_AUTH",
      );
      // The KV data survived every attempt.
      assert.equal(await ctx.storage.get("secret"), "kv value");
      assert.deepEqual([...(await ctx.storage.list())], [["secret", "kv value"]]);
    });
  });

  it("allows only allow-listed PRAGMAs", async () => {
    await withSql((sql) => {
      sql.exec(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL); CREATE INDEX t_name ON t (name)",
      );
      const tables = sql
        .exec("PRAGMA table_list")
        .toArray()
        .map((r) => r.name);
      assert.ok(tables.includes("t"));
      assert.deepEqual(
        sql
          .exec("PRAGMA table_info(t)")
          .toArray()
          .map((c) => [c.name, c.type, c.notnull, c.pk]),
        [
          ["id", "INTEGER", 0, 1],
          ["name", "TEXT", 1, 0],
        ],
      );
      assert.deepEqual(
        sql
          .exec("PRAGMA index_list(t)")
          .toArray()
          .map((r) => r.name),
        ["t_name"],
      );
      assert.equal(sql.exec("PRAGMA foreign_keys").toArray().length, 1);
      sql.exec("PRAGMA foreign_keys = ON");
      assert.equal(sql.exec("PRAGMA quick_check").one().quick_check, "ok");
      for (const [query, denied] of [
        ["PRAGMA journal_mode", "journal_mode"],
        ["PRAGMA journal_mode = DELETE", "journal_mode(DELETE)"],
        ["PRAGMA synchronous = OFF", "synchronous(OFF)"],
        ["PRAGMA writable_schema = 1", "writable_schema(1)"],
        ["PRAGMA page_size", "page_size"],
        ["PRAGMA table_info", "table_info"],
      ] as const) {
        assert.throws(
          () => sql.exec(query).toArray(),
          { message: `not authorized to use pragma ${denied}: SQLITE_AUTH` },
          query,
        );
      }
    });
  });

  it("denies TEMP objects and virtual tables other than FTS5", async () => {
    await withSql((sql) => {
      assert.throws(() => sql.exec("CREATE TEMP TABLE scratch (x)"), {
        message: "not authorized to use TEMP tables, indexes, triggers or views: SQLITE_AUTH",
      });
      assert.throws(() => sql.exec("CREATE VIRTUAL TABLE r USING rtree(id, x0, x1)"), {
        message:
          /^not authorized to use virtual table module rtree: SQLITE_AUTH$|no such module: rtree/,
      });
      assert.deepEqual(
        sql
          .exec("PRAGMA table_list")
          .toArray()
          .filter(
            (t) =>
              t.schema === "main" &&
              !String(t.name).startsWith("_cf_") &&
              !String(t.name).startsWith("sqlite_"),
          ),
        [],
      );
    });
  });
});

describe("SQLite features", () => {
  it("supports FTS5 full-text search with its auxiliary functions", async () => {
    await withSql((sql) => {
      sql.exec("CREATE VIRTUAL TABLE docs USING fts5(title, body)");
      const insert = (title: string, body: string) =>
        sql.exec("INSERT INTO docs (title, body) VALUES (?, ?)", title, body);
      insert("Durable Objects", "Each object has its own transactional storage");
      insert("Alarms", "Wake an object at a scheduled time");
      insert("Storage", "SQLite storage with full-text search through FTS5");
      const hits = sql
        .exec(
          "SELECT title, highlight(docs, 1, '[', ']') AS h FROM docs WHERE docs MATCH ? ORDER BY bm25(docs)",
          "storage",
        )
        .toArray();
      assert.deepEqual(hits.map((h) => h.title).sort(), ["Durable Objects", "Storage"]);
      assert.ok(hits.some((h) => String(h.h).includes("[storage]")));
      assert.deepEqual(
        sql.exec("SELECT title FROM docs WHERE docs MATCH 'wake AND scheduled'").toArray(),
        [{ title: "Alarms" }],
      );
      sql.exec("CREATE VIRTUAL TABLE docs_vocab USING fts5vocab(docs, 'row')");
      assert.ok((sql.exec("SELECT count(*) AS n FROM docs_vocab").one().n as number) > 5);
    });
  });

  it("runs triggers, including multi-statement trigger bodies created in a batch", async () => {
    await withSql((sql) => {
      sql.exec(`
        CREATE TABLE items (id INTEGER PRIMARY KEY, qty INTEGER);
        CREATE TABLE audit (item INTEGER, change TEXT);
        CREATE TRIGGER items_ins AFTER INSERT ON items BEGIN
          INSERT INTO audit VALUES (new.id, 'insert');
          INSERT INTO audit VALUES (new.id, CASE WHEN new.qty > 10 THEN 'bulk' ELSE 'small' END);
        END;
        CREATE TRIGGER items_del AFTER DELETE ON items BEGIN
          INSERT INTO audit VALUES (old.id, 'delete');
        END;
      `);
      sql.exec("INSERT INTO items (qty) VALUES (?)", 50);
      sql.exec("INSERT INTO items (qty) VALUES (?)", 1);
      sql.exec("DELETE FROM items WHERE id = 1");
      assert.deepEqual(sql.exec("SELECT item, change FROM audit ORDER BY rowid").toArray(), [
        { item: 1, change: "insert" },
        { item: 1, change: "bulk" },
        { item: 2, change: "insert" },
        { item: 2, change: "small" },
        { item: 1, change: "delete" },
      ]);
    });
  });

  it("supports JSON functions, window functions and recursive CTEs", async () => {
    await withSql((sql) => {
      assert.deepEqual(
        sql
          .exec(
            `SELECT json_extract(?, '$.a[1]') AS v, ? ->> '$.b' AS b`,
            '{"a":[1,2]}',
            '{"b":"x"}',
          )
          .one(),
        {
          v: 2,
          b: "x",
        },
      );
      assert.deepEqual(
        sql
          .exec(
            "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 4) SELECT sum(n) OVER () AS s FROM c LIMIT 1",
          )
          .one(),
        { s: 10 },
      );
    });
  });

  it("databaseSize is the size of the pages in use and grows with data", async () => {
    await withSql((sql) => {
      const empty = sql.databaseSize;
      assert.ok(Number.isInteger(empty) && empty > 0);
      sql.exec("CREATE TABLE big (b BLOB)");
      for (let i = 0; i < 20; i++)
        sql.exec("INSERT INTO big VALUES (?)", new Uint8Array(16 * 1024));
      const grown = sql.databaseSize;
      assert.ok(grown >= empty + 20 * 16 * 1024, `${grown} should exceed ${empty} by 320 KiB`);
      // Whole pages, of the 1 KiB a new object's database is made with.
      assert.equal(grown % 1024, 0);
    });
  });
});

describe("SQL persistence", () => {
  it("SQL tables survive the process: a new runtime on the same data directory sees them", async () => {
    using store = testStore();
    {
      await using rt = await startStorageRuntime(store.options);
      const stub = rt.env.STORE.getByName("persist");
      await stub.note("first");
      await stub.note("second");
      await inObject(rt, "persist", (_, ctx) => {
        ctx.storage.sql.exec("CREATE TABLE blobs (b BLOB); INSERT INTO blobs VALUES (x'cafe')");
      });
    }
    await using rt = await startStorageRuntime(store.options);
    assert.deepEqual(await rt.env.STORE.getByName("persist").notes(), [
      { id: 1, text: "first" },
      { id: 2, text: "second" },
    ]);
    await inObject(rt, "persist", (_, ctx) => {
      const b = ctx.storage.sql.exec("SELECT b FROM blobs").one().b as ArrayBuffer;
      assert.deepEqual([...new Uint8Array(b)], [0xca, 0xfe]);
    });
  });

  it("SQL tables survive eviction: the constructor runs again, the data is still there", async () => {
    const clock = new ManualClock();
    await using rt = await startStorageRuntime({ clock, objects: { idleTimeoutMs: 10_000 } });
    const stub = rt.env.STORE.getByName("evicted");
    await stub.note("before eviction");
    const before = await inObject(rt, "evicted", (instance) => instance.generation);
    await clock.advance(10_001);
    const after = await inObject(rt, "evicted", (instance, ctx) => {
      assert.deepEqual(ctx.storage.sql.exec("SELECT text FROM notes").toArray(), [
        { text: "before eviction" },
      ]);
      return instance.generation;
    });
    assert.notEqual(after, before, "the object was evicted and constructed again");
  });

  it("un-awaited exec writes commit with the turn and are durable before the event's result", async () => {
    using store = testStore();
    {
      await using rt = await startStorageRuntime(store.options);
      await inObject(rt, "turn", (_, ctx) => {
        ctx.storage.sql.exec("CREATE TABLE t (x)");
        for (let i = 0; i < 10; i++) ctx.storage.sql.exec("INSERT INTO t VALUES (?)", i);
      });
    }
    await using rt = await startStorageRuntime(store.options);
    assert.equal(
      await inObject(
        rt,
        "turn",
        (_, ctx) => ctx.storage.sql.exec("SELECT count(*) AS n FROM t").one().n,
      ),
      10,
    );
  });
});

import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { createRuntime, type D1Database, type DurableObjectNamespace } from "stead";
import { applyD1Migrations, readD1Migrations } from "stead/testing";
import { storageOptions, testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const WORKER = new URL("../fixtures/d1-worker.ts", import.meta.url);
const SCHEMA = [
  "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, avatar BLOB)",
  "CREATE TABLE ledger (account TEXT NOT NULL, amount INTEGER NOT NULL)",
].join(";\n");

async function d1Runtime(options: Record<string, unknown> = {}) {
  const rt = await createRuntime({
    main: WORKER,
    durableObjects: { ACCOUNT: "Account" },
    d1_databases: [{ binding: "DB", database_name: "shop" }],
    ...storageOptions(),
    ...options,
  });
  const db = rt.env.DB as D1Database;
  await db.batch(SCHEMA.split(";\n").map((sql) => db.prepare(sql)));
  return { rt, db };
}

async function rejects(promise: Promise<unknown>, message: string | RegExp): Promise<void> {
  await assert.rejects(promise, (error: Error) => {
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

describe("D1 databases (d1_databases)", () => {
  it("runs statements with D1's result shape and meta", async () => {
    const { rt, db } = await d1Runtime();
    await using _ = rt;
    const insert = db.prepare("INSERT INTO users (name, avatar) VALUES (?, ?)");
    const ada = await insert.bind("Ada", new Uint8Array([1, 2, 3])).run();
    assert.equal(ada.success, true);
    assert.deepEqual(ada.results, []);
    assert.equal(ada.meta.changes, 1);
    assert.equal(ada.meta.last_row_id, 1);
    assert.equal(ada.meta.changed_db, true);
    assert.equal(ada.meta.rows_written, 1);
    assert.equal(ada.meta.served_by_primary, true);
    assert.ok(ada.meta.size_after > 0);
    assert.equal(typeof ada.meta.duration, "number");
    assert.equal(ada.meta.timings.sql_duration_ms, ada.meta.duration);
    assert.equal((await insert.bind("Grace", null).run()).meta.last_row_id, 2);

    const all = await db.prepare("SELECT id, name, avatar FROM users ORDER BY id").all();
    assert.deepEqual(all.results, [
      { id: 1, name: "Ada", avatar: [1, 2, 3] },
      { id: 2, name: "Grace", avatar: null },
    ]);
    assert.equal(all.meta.rows_read, 2);
    assert.equal(all.meta.changes, 0);
    assert.equal(all.meta.changed_db, false);

    const byId = db.prepare("SELECT name FROM users WHERE id = ?");
    assert.deepEqual(await byId.bind(2).first(), { name: "Grace" });
    assert.equal(await byId.bind(2).first("name"), "Grace");
    assert.equal(await byId.bind(9).first(), null);
    assert.equal(await byId.bind(9).first("name"), null);
    await rejects(byId.bind(1).first("nope"), "D1_COLUMN_NOTFOUND: Column not found (nope)");
    assert.deepEqual(await db.prepare("SELECT id, name FROM users ORDER BY id").raw(), [
      [1, "Ada"],
      [2, "Grace"],
    ]);
    assert.deepEqual(
      await db.prepare("SELECT id, name FROM users WHERE id = 1").raw({ columnNames: true }),
      [
        ["id", "name"],
        [1, "Ada"],
      ],
    );
    // A statement is immutable: bind() returns a new one.
    assert.deepEqual(insert.params, []);
    assert.equal(insert.statement, "INSERT INTO users (name, avatar) VALUES (?, ?)");
  });

  it("binds numbers, strings, booleans, null and bytes, and refuses other types", async () => {
    const { rt, db } = await d1Runtime();
    await using _ = rt;
    const row = await db
      .prepare("SELECT ? AS n, ? AS f, ? AS s, ? AS t, ? AS z, ? AS b, ? AS v, ? AS a, ?2 AS again")
      .bind(42, 1.5, "x", true, null, new Uint8Array([255]).buffer, new Uint16Array([1]), [7, 8])
      .first();
    assert.deepEqual(row, {
      n: 42,
      f: 1.5,
      s: "x",
      t: 1,
      z: null,
      b: [255],
      v: [1, 0],
      a: [7, 8],
      again: 1.5,
    });
    const statement = db.prepare("SELECT ?");
    assert.throws(() => statement.bind(undefined), {
      message: "D1_TYPE_ERROR: Type 'undefined' not supported for value 'undefined'",
    });
    assert.throws(() => statement.bind(1n), {
      message: "D1_TYPE_ERROR: Type 'bigint' not supported for value '1'",
    });
    assert.throws(() => statement.bind({ a: 1 }), {
      message: "D1_TYPE_ERROR: Type 'object' not supported for value '[object Object]'",
    });
    assert.throws(() => statement.bind([1, 300]), /D1_TYPE_ERROR: Type 'object'/);
    assert.throws(() => db.prepare(42 as never), /prepare\(\) expects the SQL as a string/);
  });

  it("gives D1's error texts and changes nothing on an error", async () => {
    const { rt, db } = await d1Runtime();
    await using _ = rt;
    await rejects(
      db.prepare("SELECT * FROM nope").all(),
      "D1_ERROR: no such table: nope: SQLITE_ERROR",
    );
    await db.prepare("INSERT INTO users (name) VALUES ('Ada')").run();
    await rejects(
      db.prepare("INSERT INTO users (name) VALUES ('Ada')").run(),
      "D1_ERROR: UNIQUE constraint failed: users.name: SQLITE_CONSTRAINT",
    );
    await rejects(db.prepare("-- nothing here").run(), "D1_ERROR: No SQL statements detected.");
    await rejects(db.prepare("SELECT * FROM _cf_KV").all(), /^D1_ERROR: .*_cf_KV/);
    await rejects(db.prepare("BEGIN TRANSACTION").run(), /^D1_ERROR: /);
    assert.equal(await db.prepare("SELECT count(*) AS n FROM users").first("n"), 1);
  });

  it("runs a batch in one transaction: every statement or none", async () => {
    const { rt, db } = await d1Runtime();
    await using _ = rt;
    const insert = db.prepare("INSERT INTO users (name) VALUES (?)");
    const results = await db.batch([
      insert.bind("Ada"),
      insert.bind("Grace"),
      db.prepare("SELECT name FROM users ORDER BY id"),
    ]);
    assert.equal(results.length, 3);
    assert.equal(results[1]!.meta.last_row_id, 2);
    assert.deepEqual(results[2]!.results, [{ name: "Ada" }, { name: "Grace" }]);

    await rejects(
      db.batch([insert.bind("Edsger"), insert.bind("Barbara"), insert.bind("Ada")]),
      "D1_ERROR: UNIQUE constraint failed: users.name: SQLITE_CONSTRAINT",
    );
    assert.deepEqual(await db.prepare("SELECT name FROM users ORDER BY id").raw(), [
      ["Ada"],
      ["Grace"],
    ]);
    await rejects(db.batch([]), "D1_ERROR: No SQL statements detected.");
    await assert.rejects(
      db.batch([insert.bind("x"), "SELECT 1" as never]),
      /batch\(\) expects statements made by prepare\(\), but item 1 is a string/,
    );
  });

  it("execs one statement per line, stopping at the first that fails", async () => {
    const { rt, db } = await d1Runtime();
    await using _ = rt;
    const done = await db.exec(
      "INSERT INTO users (name) VALUES ('Ada')\n\nINSERT INTO users (name) VALUES ('Grace')",
    );
    assert.equal(done.count, 2);
    assert.equal(typeof done.duration, "number");
    await rejects(
      db.exec(
        "INSERT INTO users (name) VALUES ('Edsger')\nINSERT INTO nope VALUES (1)\nINSERT INTO users (name) VALUES ('Barbara')",
      ),
      "D1_EXEC_ERROR: Error in line 2: INSERT INTO nope VALUES (1): no such table: nope: SQLITE_ERROR",
    );
    // The line before the failure stays; the one after never ran.
    assert.deepEqual(await db.prepare("SELECT name FROM users ORDER BY id").raw(), [
      ["Ada"],
      ["Grace"],
      ["Edsger"],
    ]);
  });

  it("sessions carry a bookmark that moves forward with each query", async () => {
    const { rt, db } = await d1Runtime();
    await using _ = rt;
    const session = db.withSession();
    assert.equal(session.getBookmark(), null);
    await session.prepare("INSERT INTO users (name) VALUES ('Ada')").run();
    const first = session.getBookmark();
    assert.match(first ?? "", /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/);
    await session.batch([session.prepare("INSERT INTO users (name) VALUES ('Grace')")]);
    const second = session.getBookmark()!;
    assert.ok(second > first!, `${second} after ${first}`);
    assert.equal(db.withSession("first-primary").getBookmark(), null);
    const resumed = db.withSession(second);
    assert.equal(resumed.getBookmark(), second);
    assert.equal(await resumed.prepare("SELECT count(*) AS n FROM users").first("n"), 2);
    assert.ok(resumed.getBookmark()! >= second);
  });

  it("dumps the database as an SQLite file without the runtime's tables", async () => {
    const { rt, db } = await d1Runtime();
    await using _ = rt;
    await db.exec(
      [
        "INSERT INTO users (name, avatar) VALUES ('Ada', x'0102')",
        "INSERT INTO users (name) VALUES ('Grace')",
        "DELETE FROM users WHERE name = 'Grace'",
        "CREATE INDEX users_by_name ON users (name)",
        "CREATE VIEW names AS SELECT name FROM users",
        "CREATE TABLE totals (account TEXT PRIMARY KEY, total INTEGER, doubled INTEGER GENERATED ALWAYS AS (total * 2)) WITHOUT ROWID",
        "INSERT INTO totals (account, total) VALUES ('a', 21)",
        "CREATE TRIGGER count_deposit AFTER INSERT ON ledger BEGIN UPDATE totals SET total = total + NEW.amount WHERE account = NEW.account; END",
        "PRAGMA user_version = 3",
      ].join("\n"),
    );
    const bytes = await db.dump();
    using dir = tempDataDir("stead-d1-dump-");
    const file = join(dir.path, "dump.sqlite");
    writeFileSync(file, new Uint8Array(bytes));
    const copy = new DatabaseSync(file);
    const rows = (sql: string) =>
      copy
        .prepare(sql)
        .all()
        .map((row) => ({ ...row }));
    try {
      const names = copy
        .prepare("SELECT type, name FROM sqlite_master ORDER BY type, name")
        .all()
        .map((row) => `${row.type} ${row.name}`);
      assert.deepEqual(names, [
        "index sqlite_autoindex_users_1",
        "index users_by_name",
        "table ledger",
        "table sqlite_sequence",
        "table totals",
        "table users",
        "trigger count_deposit",
        "view names",
      ]);
      assert.deepEqual(rows("SELECT id, name, hex(avatar) AS a FROM users"), [
        { id: 1, name: "Ada", a: "0102" },
      ]);
      assert.deepEqual(rows("SELECT seq FROM sqlite_sequence WHERE name = 'users'"), [{ seq: 2 }]);
      assert.deepEqual(rows("SELECT * FROM totals"), [{ account: "a", total: 21, doubled: 42 }]);
      assert.deepEqual(rows("PRAGMA user_version"), [{ user_version: 3 }]);
    } finally {
      copy.close();
    }
  });

  it("keeps its data across restarts, one database per database_id", async () => {
    using store = testStore();
    const options = {
      main: WORKER,
      durableObjects: { ACCOUNT: "Account" },
      d1_databases: [
        { binding: "DB", database_id: "prod" },
        { binding: "SAME", database_id: "prod" },
        { binding: "OTHER", database_name: "other" },
      ],
      ...store.options,
    };
    {
      await using rt = await createRuntime(options);
      await (rt.env.DB as D1Database).exec(
        "CREATE TABLE t (v TEXT)\nINSERT INTO t VALUES ('kept')",
      );
      await (rt.env.OTHER as D1Database).exec("CREATE TABLE o (v TEXT)");
    }
    await using rt = await createRuntime(options);
    assert.equal(await (rt.env.SAME as D1Database).prepare("SELECT v FROM t").first("v"), "kept");
    await rejects(
      (rt.env.OTHER as D1Database).prepare("SELECT v FROM t").all(),
      "D1_ERROR: no such table: t: SQLITE_ERROR",
    );
  });

  it("works from the Worker and from Durable Objects, on object threads too", async () => {
    for (const threads of [0, 2]) {
      const { rt, db } = await d1Runtime({ threads });
      await using _ = rt;
      const created = await rt.fetch("http://app/users", {
        method: "POST",
        body: JSON.stringify({ name: "Ada" }),
      });
      assert.deepEqual(await created.json(), { id: 1 });
      assert.deepEqual(await (await rt.fetch("http://app/users")).json(), [{ id: 1, name: "Ada" }]);
      const accounts = rt.env.ACCOUNT as DurableObjectNamespace;
      const deposits = await Promise.all(
        ["a", "b"].map((name) => accounts.getByName(name).deposit(5)),
      );
      assert.deepEqual(deposits, [5, 5], `threads: ${threads}`);
      assert.equal(await accounts.getByName("a").deposit(2), 7);
      assert.equal(await db.prepare("SELECT count(*) AS n FROM ledger").first("n"), 3);
    }
  });

  it("applies wrangler-style migrations in order, each in one transaction", async () => {
    const { rt, db } = await d1Runtime();
    await using _ = rt;
    using dir = tempDataDir("stead-d1-migrations-");
    const folder = join(dir.path, "migrations");
    mkdirSync(folder);
    writeFileSync(
      join(folder, "0001_products.sql"),
      "-- products\nCREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT);\nINSERT INTO products (name) VALUES ('tea; green');\n",
    );
    writeFileSync(
      join(folder, "0010_prices.sql"),
      "ALTER TABLE products ADD COLUMN price INTEGER;\nCREATE TRIGGER priced AFTER UPDATE ON products BEGIN SELECT 1; SELECT 2; END;\n",
    );
    writeFileSync(
      join(folder, "0002_index.sql"),
      "CREATE INDEX products_by_name ON products (name);\n",
    );
    writeFileSync(join(folder, "notes.txt"), "not a migration");
    const migrations = await readD1Migrations(folder);
    assert.deepEqual(
      migrations.map(({ name, queries }) => [name, queries.length]),
      [
        ["0001_products.sql", 2],
        ["0002_index.sql", 1],
        ["0010_prices.sql", 2],
      ],
    );
    assert.deepEqual(await applyD1Migrations(db, migrations), [
      "0001_products.sql",
      "0002_index.sql",
      "0010_prices.sql",
    ]);
    assert.deepEqual(await applyD1Migrations(db, migrations), []);
    assert.deepEqual(await db.prepare("SELECT name FROM d1_migrations ORDER BY id").raw(), [
      ["0001_products.sql"],
      ["0002_index.sql"],
      ["0010_prices.sql"],
    ]);

    writeFileSync(
      join(folder, "0011_broken.sql"),
      "CREATE TABLE half (id INTEGER);\nINSERT INTO missing VALUES (1);\n",
    );
    await assert.rejects(applyD1Migrations(db, await readD1Migrations(folder)), (error: Error) => {
      assert.equal((error as { code?: string }).code, "D1_MIGRATION_FAILED");
      assert.match(
        error.message,
        /^Migration 0011_broken\.sql failed, and none of it was applied: D1_ERROR: no such table: missing/,
      );
      return true;
    });
    await rejects(
      db.prepare("SELECT * FROM half").all(),
      "D1_ERROR: no such table: half: SQLITE_ERROR",
    );
    assert.equal(await db.prepare("SELECT count(*) AS n FROM d1_migrations").first("n"), 3);
  });

  it("refuses bad options, naming the option", async () => {
    await assert.rejects(
      createRuntime({ main: WORKER, d1_databases: [{ binding: "no-dash" }] }),
      /d1_databases\.0\.binding: must be a JavaScript identifier/,
    );
    await assert.rejects(
      createRuntime({ main: WORKER, d1_databases: [{ binding: "DB", migrations_table: "_cf_x" }] }),
      /d1_databases\.0\.migrations_table: must not start with _cf_ or sqlite_/,
    );
    await assert.rejects(
      createRuntime({
        main: WORKER,
        vars: { DB: "x" },
        d1_databases: [{ binding: "DB" }],
      }),
      /d1_databases: DB is also bound by vars/,
    );
  });
});

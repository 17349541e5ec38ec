// Cloudflare's SQL limits (reference §4.3, platform limits page): 2 MB string, BLOB and row,
// 100 KB of SQL per exec(), 100 columns, 100 bound parameters, with workerd's error texts.
// Oversized values are refused before they are stored and nothing already stored changes; the
// runtime's own use of the same connection (the hidden _cf_KV table) keeps working.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SqlStorage } from "../../src/index.ts";
import { testStore } from "../support/storage.ts";
import { compareUtf8, inObject, startStorageRuntime } from "../support/storage-harness.ts";

const MiB = 1024 * 1024;
const TOO_BIG = { message: "string or blob too big: SQLITE_TOOBIG" };

async function withSql<R>(fn: (sql: SqlStorage) => R | Promise<R>): Promise<R> {
  await using rt = await startStorageRuntime();
  return await inObject(rt, "limits", (_, ctx) => fn(ctx.storage.sql));
}

function rows(sql: SqlStorage): unknown[] {
  return sql.exec("SELECT id, length(v) AS len FROM t ORDER BY id").toArray();
}

describe("SQL limits: strings, BLOBs and rows of 2 MB", () => {
  it("refuses a bound string or BLOB of 2 MiB + 1 bytes and leaves the table unchanged", async () => {
    await withSql((sql) => {
      sql.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v)");
      sql.exec("INSERT INTO t (v) VALUES (?)", "kept");
      const before = rows(sql);
      assert.throws(
        () => sql.exec("INSERT INTO t (v) VALUES (?)", "x".repeat(2 * MiB + 1)),
        TOO_BIG,
      );
      assert.throws(
        () => sql.exec("INSERT INTO t (v) VALUES (?)", new Uint8Array(2 * MiB + 1)),
        TOO_BIG,
      );
      assert.throws(
        () => sql.exec("INSERT INTO t (v) VALUES (?)", new ArrayBuffer(2 * MiB + 1)),
        TOO_BIG,
      );
      // Two-byte UTF-8 characters: 1.1 M characters are 2.2 MB.
      assert.throws(
        () => sql.exec("UPDATE t SET v = ? WHERE id = 1", "é".repeat(1_100_000)),
        TOO_BIG,
      );
      assert.deepEqual(rows(sql), before);
      assert.equal(sql.exec("SELECT v FROM t WHERE id = 1").one().v, "kept");
    });
  });

  it("refuses values SQL itself produces over the limit, in writes and in results", async () => {
    await withSql((sql) => {
      sql.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v)");
      sql.exec("INSERT INTO t (v) VALUES ('kept')");
      const before = rows(sql);
      assert.throws(() => sql.exec("INSERT INTO t (v) SELECT zeroblob(?)", 2 * MiB + 1), TOO_BIG);
      assert.throws(() => sql.exec("UPDATE t SET v = randomblob(?)", 2 * MiB + 1), TOO_BIG);
      assert.throws(() => sql.exec("SELECT zeroblob(?) AS b", 2 * MiB + 1).one(), TOO_BIG);
      const half = "x".repeat(MiB + 1);
      assert.throws(() => sql.exec("SELECT ? || ? AS s", half, half).one(), TOO_BIG);
      assert.throws(() => sql.exec("UPDATE t SET v = v || ?", "y".repeat(2 * MiB)), TOO_BIG);
      assert.deepEqual(rows(sql), before);
    });
  });

  it("refuses a row over 2 MiB made of smaller values", async () => {
    await withSql((sql) => {
      sql.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v, w)");
      sql.exec("INSERT INTO t (v, w) VALUES (?, 'w')", new Uint8Array(MiB));
      const before = sql.exec("SELECT id, length(v) AS v, length(w) AS w FROM t").toArray();
      assert.throws(() => sql.exec("UPDATE t SET w = ?", new Uint8Array(MiB + 1)), TOO_BIG);
      assert.throws(
        () =>
          sql.exec("INSERT INTO t (v, w) VALUES (?, ?)", new Uint8Array(MiB), new Uint8Array(MiB)),
        TOO_BIG,
      );
      assert.deepEqual(
        sql.exec("SELECT id, length(v) AS v, length(w) AS w FROM t").toArray(),
        before,
      );
    });
  });

  it("stores a value just under the limit, and reads it back", async () => {
    await withSql((sql) => {
      sql.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v)");
      sql.exec("INSERT INTO t (v) VALUES (?)", new Uint8Array(2 * MiB - 64).fill(7));
      const { v } = sql.exec("SELECT v FROM t").one() as { v: ArrayBuffer };
      assert.equal(v.byteLength, 2 * MiB - 64);
    });
  });

  it("fails SELECT randomblob(900000000) at once instead of building 900 MB", async () => {
    await withSql((sql) => {
      const heapBefore = process.memoryUsage().arrayBuffers;
      assert.throws(() => sql.exec("SELECT randomblob(900000000) AS b").one(), TOO_BIG);
      assert.throws(() => sql.exec("SELECT length(zeroblob(900000000)) AS n").one(), TOO_BIG);
      assert.ok(process.memoryUsage().arrayBuffers - heapBefore < 64 * MiB);
    });
  });

  it("keeps what the turn wrote before a refused value, and it survives a restart", async () => {
    using store = testStore();
    {
      await using rt = await startStorageRuntime(store.options);
      await inObject(rt, "kept", (_, ctx) => {
        const sql = ctx.storage.sql;
        sql.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v)");
        sql.exec("INSERT INTO t (v) VALUES ('first')");
        assert.throws(
          () => sql.exec("INSERT INTO t (v) VALUES (?)", "x".repeat(100 * MiB)),
          TOO_BIG,
        );
        sql.exec("INSERT INTO t (v) VALUES ('after')");
      });
    }
    await using rt = await startStorageRuntime(store.options);
    const values = await inObject(rt, "kept", (_, ctx) =>
      ctx.storage.sql.exec("SELECT v FROM t ORDER BY id").toArray(),
    );
    assert.deepEqual(values, [{ v: "first" }, { v: "after" }]);
  });
});

describe("SQL limits: statements, columns and parameters", () => {
  it("refuses SQL text over 100,000 UTF-8 bytes", async () => {
    await withSql((sql) => {
      const message = "statement too long: SQLITE_TOOBIG";
      sql.exec(`SELECT 1 -- ${"x".repeat(100_000 - 12)}`);
      assert.throws(() => sql.exec(`SELECT 1 -- ${"x".repeat(100_000 - 11)}`), { message });
      // 50,000 characters, but 100,000 bytes once encoded.
      assert.throws(() => sql.exec(`SELECT '${"é".repeat(50_000)}'`), { message });
      // The limit is on the whole exec() text, however many statements it holds.
      const many = Array.from({ length: 3000 }, () => "SELECT 'padding padding padding';");
      assert.throws(() => sql.exec(many.join("\n")), { message });
    });
  });

  it("refuses more than 100 columns in a table, an ALTER TABLE or a result", async () => {
    await withSql((sql) => {
      const columns = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`).join(", ");
      sql.exec(`CREATE TABLE wide (${columns(100)})`);
      assert.throws(() => sql.exec(`CREATE TABLE wider (${columns(101)})`), {
        message: "too many columns on wider: SQLITE_ERROR",
      });
      assert.throws(() => sql.exec("ALTER TABLE wide ADD COLUMN extra"), {
        message: /^too many columns on .*: SQLITE_ERROR$/,
      });
      const values = Array.from({ length: 101 }, (_, i) => i).join(", ");
      assert.throws(() => sql.exec(`SELECT ${values}`), {
        message: "too many columns in result set: SQLITE_ERROR",
      });
      assert.equal(sql.exec("SELECT count(*) AS n FROM pragma_table_info('wide')").one().n, 100);
    });
  });

  it("refuses more than 100 bound parameters", async () => {
    await withSql((sql) => {
      const marks = (n: number) => Array(n).fill("?").join(", ");
      assert.equal(
        sql
          .exec(`SELECT ${marks(100)}`, ...Array(100).fill(1))
          .raw()
          .next().value?.length,
        100,
      );
      assert.throws(() => sql.exec(`SELECT ${marks(101)}`, ...Array(101).fill(1)), {
        message: /^too many SQL variables.*: SQLITE_ERROR$/,
      });
      assert.throws(() => sql.exec(`SELECT ${marks(101)}`), {
        message: /^too many SQL variables.*: SQLITE_ERROR$/,
      });
      assert.throws(() => sql.exec("SELECT ?101"), {
        message: /^variable number must be between \?1 and \?100.*: SQLITE_ERROR$/,
      });
      assert.throws(() => sql.exec("SELECT ?", ...Array(101).fill(1)), {
        message: "Wrong number of parameter bindings for SQL query.",
      });
    });
  });
});

describe("SQL limits: the runtime's own statements", () => {
  it("batches of 128 keys, values near 2 MiB and listing still work over the limited connection", async () => {
    await using rt = await startStorageRuntime();
    await inObject(rt, "kv-under-limits", async (_, ctx) => {
      // Keys whose UTF-16 order differs from their UTF-8 order, across two read chunks.
      const keys = Array.from({ length: 128 }, (_, i) =>
        i % 2 === 0 ? `k${i}` : `${i % 3 === 0 ? "\u{1F600}" : "\uFF61"}${i}`,
      );
      await ctx.storage.put(Object.fromEntries(keys.map((k, i) => [k, i])));
      const got = await ctx.storage.get(keys);
      assert.deepEqual([...got.keys()], [...keys].sort(compareUtf8));
      assert.equal(got.get("k4"), 4);
      assert.equal(ctx.storage.kv.get("k6"), 6);
      assert.equal((await ctx.storage.list()).size, 128);
      assert.equal(await ctx.storage.delete(keys), 128);

      await ctx.storage.put("big", new Uint8Array(2 * MiB - 64));
      assert.equal(((await ctx.storage.get("big")) as Uint8Array).byteLength, 2 * MiB - 64);
      await ctx.storage.setAlarm(Date.now() + 60_000);
      assert.equal(typeof (await ctx.storage.getAlarm()), "number");
      ctx.storage.transactionSync(() => ctx.storage.kv.put("tx", 1));
      assert.equal(ctx.storage.kv.get("tx"), 1);
    });
  });

  it("keeps an object whose name is longer than a row working", async () => {
    await using rt = await startStorageRuntime();
    const name = "n".repeat(3 * MiB);
    const stored = await inObject(rt, name, async (_, ctx) => {
      await ctx.storage.put("k", "v");
      return { name: ctx.id.name?.length, value: await ctx.storage.get("k") };
    });
    assert.deepEqual(stored, { name: 3 * MiB, value: "v" });
  });
});

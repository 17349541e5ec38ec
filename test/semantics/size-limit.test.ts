// The per-object size limit (Cloudflare: 10 GB per object; `objects.maxDatabaseBytes` here) and
// what reaching it does, as on workerd: the write fails with SQLite's SQLITE_FULL text, SQLite has
// rolled back the turn's transaction, the object is reset (a critical error: its outputs fail
// with that error, later storage calls throw it), and everything committed before stays.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createRuntime, SteadError } from "../../src/index.ts";
import { failureOf } from "../support/errors.ts";
import { testStore } from "../support/storage.ts";
import { inObject, STORAGE_WORKER, startStorageRuntime } from "../support/storage-harness.ts";

const FULL = "database or disk is full: SQLITE_FULL";
const LIMIT = 128 * 1024;
const TOO_BIG = "x".repeat(LIMIT * 2 - 1000);

describe("object size limit", () => {
  it("fails a write past the limit, resets the object and keeps what was committed", async () => {
    using store = testStore();
    const options = { ...store.options, objects: { maxDatabaseBytes: LIMIT } };
    {
      await using rt = await startStorageRuntime(options);
      const first = await inObject(rt, "full", async (store, ctx) => {
        const sql = ctx.storage.sql;
        sql.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
        sql.exec("INSERT INTO t VALUES (1, 'kept')");
        await ctx.storage.sync();
        return store.generation;
      });
      const failure = await failureOf(() =>
        inObject(rt, "full", async (store, ctx) => {
          const sql = ctx.storage.sql;
          store.memo.push("lost with the instance");
          sql.exec("INSERT INTO t VALUES (2, 'same turn as the failure')");
          assert.throws(() => sql.exec("INSERT INTO t VALUES (3, ?)", TOO_BIG), {
            name: "Error",
            message: FULL,
          });
          // Every later storage call throws the same error: this instance's storage is gone.
          assert.throws(() => sql.exec("SELECT 1"), { message: FULL });
          await assert.rejects(ctx.storage.get("k"), { message: FULL });
          assert.throws(() => ctx.storage.kv.put("k", 1), { message: FULL });
          return "the handler returned";
        }),
      );
      // The handler caught everything, yet its result fails with the critical error.
      assert.equal(failure.message, FULL);
      const after = await inObject(rt, "full", (store, ctx) => {
        const rows = ctx.storage.sql.exec("SELECT id, v FROM t ORDER BY id").toArray();
        // Still usable below the limit.
        ctx.storage.sql.exec("INSERT INTO t VALUES (4, 'after')");
        return { generation: store.generation, memo: store.memo, rows };
      });
      assert.notEqual(after.generation, first, "a new instance after the reset");
      assert.deepEqual(after.memo, []);
      assert.deepEqual(after.rows, [{ id: 1, v: "kept" }]);
    }
    await using rt = await startStorageRuntime(options);
    const rows = await inObject(rt, "full", (_, ctx) =>
      ctx.storage.sql.exec("SELECT id FROM t ORDER BY id").toArray(),
    );
    assert.deepEqual(rows, [{ id: 1 }, { id: 4 }]);
  });

  it("applies to KV values too", async () => {
    await using rt = await startStorageRuntime({ objects: { maxDatabaseBytes: LIMIT } });
    await inObject(rt, "kv", async (_, ctx) => {
      await ctx.storage.put("small", "kept");
    });
    const failure = await failureOf(() =>
      inObject(rt, "kv", async (_, ctx) => {
        await ctx.storage.put("big", TOO_BIG);
      }),
    );
    assert.equal(failure.message, FULL);
    const entries = await inObject(rt, "kv", async (_, ctx) => [...(await ctx.storage.list())]);
    assert.deepEqual(entries, [["small", "kept"]]);
  });

  it("fails transactions as workerd does: transactionSync cannot commit, transaction() rejects", async () => {
    await using rt = await startStorageRuntime({ objects: { maxDatabaseBytes: LIMIT } });
    const setUp = (name: string) =>
      inObject(rt, name, async (_, ctx) => {
        ctx.storage.sql.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
        ctx.storage.sql.exec("INSERT INTO t VALUES (1, 'a')");
      });
    const ids = (name: string) =>
      inObject(rt, name, (_, ctx) =>
        ctx.storage.sql
          .exec("SELECT id FROM t ORDER BY id")
          .toArray()
          .map((row) => row.id),
      );

    await setUp("sync");
    const syncFailure = await failureOf(() =>
      inObject(rt, "sync", (_, ctx) => {
        const sql = ctx.storage.sql;
        sql.exec("INSERT INTO t VALUES (2, 'a')");
        assert.throws(
          () =>
            ctx.storage.transactionSync(() => {
              assert.throws(() => sql.exec("INSERT INTO t VALUES (3, ?)", TOO_BIG), {
                message: FULL,
              });
            }),
          { message: "Cannot commit transaction due to an earlier SQL critical error" },
        );
      }),
    );
    assert.equal(syncFailure.message, FULL);
    // The implicit transaction around transactionSync() rolled back with it.
    assert.deepEqual(await ids("sync"), [1]);

    await setUp("async");
    const asyncFailure = await failureOf(() =>
      inObject(rt, "async", async (_, ctx) => {
        const sql = ctx.storage.sql;
        sql.exec("INSERT INTO t VALUES (2, 'a')");
        await assert.rejects(
          ctx.storage.transaction(async (txn) => {
            assert.throws(() => sql.exec("INSERT INTO t VALUES (3, ?)", TOO_BIG), {
              message: FULL,
            });
            txn.rollback();
          }),
          { message: FULL },
        );
      }),
    );
    assert.equal(asyncFailure.message, FULL);
    // transaction() starts after the writes before it committed, so they stay.
    assert.deepEqual(await ids("async"), [1, 2]);
  });

  it("setMaxPageCountForTest lowers the limit, never raises it", async () => {
    await using rt = await startStorageRuntime({ objects: { maxDatabaseBytes: LIMIT } });
    await inObject(rt, "pages", (_, ctx) => {
      ctx.storage.sql.exec("CREATE TABLE t (v TEXT)");
    });
    const lowered = await failureOf(() =>
      inObject(rt, "pages", (_, ctx) => {
        ctx.storage.sql.setMaxPageCountForTest(10);
        ctx.storage.sql.exec("INSERT INTO t VALUES (?)", "y".repeat(60_000));
      }),
    );
    assert.equal(lowered.message, FULL);
    const raised = await failureOf(() =>
      inObject(rt, "pages", (_, ctx) => {
        ctx.storage.sql.setMaxPageCountForTest(1_000_000);
        ctx.storage.sql.exec("INSERT INTO t VALUES (?)", TOO_BIG);
      }),
    );
    assert.equal(raised.message, FULL);
    await inObject(rt, "pages", (_, ctx) => {
      assert.throws(() => ctx.storage.sql.setMaxPageCountForTest(0), TypeError);
      // The lowered limit belonged to the reset instance's connection.
      ctx.storage.sql.exec("INSERT INTO t VALUES (?)", "y".repeat(60_000));
    });
  });

  it("refuses a limit too small for an object's database, naming the option", async () => {
    const error = await failureOf(() =>
      createRuntime({ main: STORAGE_WORKER, objects: { maxDatabaseBytes: 1000 } }),
    );
    assert.ok(error instanceof SteadError);
    assert.equal(error.code, "INVALID_CONFIG");
    assert.match(error.message, /objects\.maxDatabaseBytes/);
    assert.match(error.message, /at least 65536 bytes/);
  });
});

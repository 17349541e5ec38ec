// Point-in-time recovery through createRuntime: bookmarks, restores on the next start, undoing
// a restore, bookmarks for a time, refused bookmarks, retention, and KV-backed classes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/core/clock.ts";
import type { DurableObjectState } from "../../src/index.ts";
import {
  failureOf,
  inObject,
  startStorageRuntime,
  tempDataDir,
} from "../fixtures/storage-harness.ts";

const DAY = 24 * 60 * 60 * 1000;

function rows(ctx: DurableObjectState): unknown[] {
  return ctx.storage.sql.exec("SELECT x FROM t ORDER BY x").toArray().map((row) => row.x);
}

/** Runs `fn` in the object, then aborts it so the next event starts it again. */
async function thenAbort<R>(
  rt: Awaited<ReturnType<typeof startStorageRuntime>>,
  name: string,
  fn: (ctx: DurableObjectState) => Promise<R>,
): Promise<R> {
  let result!: R;
  await failureOf(() =>
    inObject(rt, name, async (_, ctx) => {
      result = await fn(ctx);
      ctx.abort();
    }),
  );
  return result;
}

describe("point-in-time recovery", () => {
  it("restores SQL and KV to a bookmark on the next start, and a later restore undoes it", async () => {
    using dir = tempDataDir();
    await using rt = await startStorageRuntime({ dataDir: dir.path });
    const first = await inObject(rt, "a", async (_, ctx) => {
      ctx.storage.sql.exec("CREATE TABLE t (x INTEGER)");
      ctx.storage.sql.exec("INSERT INTO t VALUES (1)");
      await ctx.storage.put("k", "one");
      return ctx.storage.getCurrentBookmark();
    });
    assert.match(first, /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/);
    const second = await inObject(rt, "a", async (_, ctx) => {
      ctx.storage.sql.exec("INSERT INTO t VALUES (2)");
      ctx.storage.sql.exec("CREATE TABLE u (y)");
      await ctx.storage.put("k", "two");
      return ctx.storage.getCurrentBookmark();
    });
    assert.ok(first < second, `${first} < ${second}`);
    const undo = await thenAbort(rt, "a", (ctx) => ctx.storage.onNextSessionRestoreBookmark(first));
    assert.ok(undo > second, `${undo} > ${second}`);
    await inObject(rt, "a", async (_, ctx) => {
      assert.deepEqual(rows(ctx), [1]);
      assert.equal(await ctx.storage.get("k"), "one");
      const tables = ctx.storage.sql
        .exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'u'")
        .toArray();
      assert.deepEqual(tables, []);
      ctx.storage.sql.exec("INSERT INTO t VALUES (3)");
    });
    const after = await inObject(rt, "a", (_, ctx) => ctx.storage.getCurrentBookmark());
    assert.ok(after > undo, "bookmarks after a restore sort after the restore's undo bookmark");
    await thenAbort(rt, "a", (ctx) => ctx.storage.onNextSessionRestoreBookmark(undo));
    await inObject(rt, "a", async (_, ctx) => {
      assert.deepEqual(rows(ctx), [1, 2]);
      assert.equal(await ctx.storage.get("k"), "two");
    });
    await thenAbort(rt, "a", (ctx) => ctx.storage.onNextSessionRestoreBookmark(after));
    await inObject(rt, "a", (_, ctx) => assert.deepEqual(rows(ctx), [1, 3]));
  });
});

// Point-in-time recovery through createRuntime: bookmarks, restores on the next start, undoing
// a restore, bookmarks for a time, refused bookmarks, retention, and KV-backed classes; and the
// error every call gives where no history is kept.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/core/clock.ts";
import type { DurableObjectState } from "../../src/index.ts";
import { failureOf } from "../support/errors.ts";
import { skipUnless, TEST_STORAGE, testStore } from "../support/storage.ts";
import { inObject, startStorageRuntime } from "../support/storage-harness.ts";

const DAY = 24 * 60 * 60 * 1000;

/** The options of a test that bookmarks and restores states. */
const NEEDS_HISTORY = { skip: skipUnless("history", "bookmarks and restores past states") };

function rows(ctx: DurableObjectState): unknown[] {
  return ctx.storage.sql
    .exec("SELECT x FROM t ORDER BY x")
    .toArray()
    .map((row) => row.x);
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
  it(
    "restores SQL and KV to a bookmark on the next start, and a later restore undoes it",
    NEEDS_HISTORY,
    async () => {
      await using rt = await startStorageRuntime();
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
      // The primary is always at or past its own bookmarks: waitForBookmark resolves at once.
      await inObject(rt, "a", (_, ctx) => ctx.storage.waitForBookmark(first));
      // Each current bookmark sorts after the last, even with no write between them.
      const again = await inObject(rt, "a", (_, ctx) => ctx.storage.getCurrentBookmark());
      assert.ok(second < again, `${second} < ${again}`);
      const undo = await thenAbort(rt, "a", (ctx) =>
        ctx.storage.onNextSessionRestoreBookmark(first),
      );
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
    },
  );

  it(
    "gives the bookmark of a time between writes; refuses times and bookmarks past retention",
    NEEDS_HISTORY,
    async () => {
      const clock = new ManualClock(Date.UTC(2026, 0, 1));
      await using rt = await startStorageRuntime({ clock, historyRetentionDays: 2 });
      await inObject(rt, "a", (_, ctx) => {
        ctx.storage.sql.exec("CREATE TABLE t (x INTEGER)");
        ctx.storage.sql.exec("INSERT INTO t VALUES (1)");
      });
      const between = clock.now() + 1000;
      await clock.advance(DAY);
      await inObject(rt, "a", (_, ctx) => void ctx.storage.sql.exec("INSERT INTO t VALUES (2)"));
      const bookmark = await inObject(rt, "a", (_, ctx) => ctx.storage.getBookmarkForTime(between));
      const asDate = await inObject(rt, "a", (_, ctx) =>
        ctx.storage.getBookmarkForTime(new Date(between)),
      );
      assert.equal(asDate, bookmark);
      await thenAbort(rt, "a", (ctx) => ctx.storage.onNextSessionRestoreBookmark(bookmark));
      await inObject(rt, "a", (_, ctx) => assert.deepEqual(rows(ctx), [1]));

      // Malformed, edited, or another object's bookmark: refused, nothing changes.
      const other = await inObject(rt, "b", (_, ctx) => ctx.storage.getCurrentBookmark());
      for (const bad of ["nope", bookmark.replace(/.$/, (c) => (c === "0" ? "1" : "0")), other]) {
        const error = await failureOf(() =>
          inObject(rt, "a", (_, ctx) => ctx.storage.onNextSessionRestoreBookmark(bad)),
        );
        assert.equal((error as { code?: string }).code, "BOOKMARK_INVALID");
        assert.match(error.message, /^Invalid bookmark .*Nothing was changed/);
      }
      await inObject(rt, "a", (_, ctx) => assert.deepEqual(rows(ctx), [1]));

      // Three days on, the state of `bookmark` was replaced more than two days ago.
      await clock.advance(3 * DAY);
      const old = await failureOf(() =>
        inObject(rt, "a", (_, ctx) => ctx.storage.getBookmarkForTime(between)),
      );
      assert.equal((old as { code?: string }).code, "BOOKMARK_EXPIRED");
      assert.match(old.message, /older than the 2 days of history/);
      const expired = await failureOf(() =>
        inObject(rt, "a", (_, ctx) => ctx.storage.onNextSessionRestoreBookmark(bookmark)),
      );
      assert.equal((expired as { code?: string }).code, "BOOKMARK_EXPIRED");
      await inObject(rt, "a", (_, ctx) => assert.deepEqual(rows(ctx), [1]));
      // The newest state stays restorable however old it is.
      const now = await inObject(rt, "a", (_, ctx) => ctx.storage.getBookmarkForTime(clock.now()));
      await thenAbort(rt, "a", (ctx) => ctx.storage.onNextSessionRestoreBookmark(now));
      await inObject(rt, "a", (_, ctx) => assert.deepEqual(rows(ctx), [1]));
    },
  );

  it("trims history past retention and keeps restores inside the window exact", {
    skip: NEEDS_HISTORY.skip || skipUnless("localFiles", "finds the trimmed history files"),
  }, async () => {
    using store = testStore();
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    await using rt = await startStorageRuntime({
      ...store.options,
      clock,
      historyRetentionDays: 1,
    });
    const marks: Array<{ bookmark: string; rows: unknown[] }> = [];
    await inObject(rt, "a", (_, ctx) => void ctx.storage.sql.exec("CREATE TABLE t (x INTEGER)"));
    for (let i = 0; i < 300; i++) {
      await clock.advance(DAY / 100);
      const mark = await inObject(rt, "a", async (_, ctx) => {
        ctx.storage.sql.exec("INSERT INTO t VALUES (?)", i);
        if (i % 3 === 0) ctx.storage.sql.exec("DELETE FROM t WHERE x = ?", i - 2);
        return { bookmark: await ctx.storage.getCurrentBookmark(), rows: rows(ctx) };
      });
      marks.push(mark);
    }
    const history = `${store.dataDir}/Store`;
    const { readdirSync } = await import("node:fs");
    const base = readdirSync(history, { recursive: true }).find((f) =>
      String(f).endsWith("-history-base"),
    );
    assert.ok(base, "a base image was folded from records past retention");
    const log = readdirSync(history, { recursive: true }).find((f) =>
      String(f).endsWith("-history"),
    );
    const { readAll } = await import("../../src/drivers/local/history-log.ts");
    const kept = readAll(`${history}/${log}`).length;
    assert.ok(kept < 200, `folded records left the log (${kept} of 301 kept)`);
    // Every state inside the last day restores exactly; older ones are refused.
    for (const [index, mark] of marks.entries()) {
      if (index < 195) {
        if (index > 150) continue;
        const error = await failureOf(() =>
          inObject(rt, "a", (_, ctx) => ctx.storage.onNextSessionRestoreBookmark(mark.bookmark)),
        );
        assert.equal((error as { code?: string }).code, "BOOKMARK_EXPIRED");
        continue;
      }
      if (index % 20 !== 0) continue;
      await thenAbort(rt, "a", (ctx) => ctx.storage.onNextSessionRestoreBookmark(mark.bookmark));
      await inObject(rt, "a", (_, ctx) => assert.deepEqual(rows(ctx), mark.rows));
    }
  });

  it("refuses every call on a KV-backed class with workerd's text", async () => {
    await using rt = await startStorageRuntime();
    for (const call of [
      (ctx: DurableObjectState) => ctx.storage.getCurrentBookmark(),
      (ctx: DurableObjectState) => ctx.storage.getBookmarkForTime(Date.now()),
      (ctx: DurableObjectState) => ctx.storage.onNextSessionRestoreBookmark("x"),
    ]) {
      const error = await failureOf(() => inObject(rt, "a", (_, ctx) => call(ctx), "LEGACY"));
      assert.equal(
        error.message,
        "This Durable Object's storage back-end does not implement point-in-time recovery.",
      );
    }
  });

  it("rejects with POINT_IN_TIME_UNAVAILABLE when history is off, or the driver keeps none", async () => {
    await using rt = await startStorageRuntime(
      TEST_STORAGE.capabilities.history ? { historyRetentionDays: 0 } : {},
    );
    const error = await failureOf(() =>
      inObject(rt, "a", (_, ctx) => ctx.storage.getCurrentBookmark()),
    );
    assert.equal((error as { code?: string }).code, "POINT_IN_TIME_UNAVAILABLE");
  });
});

// One apply call carrying many commits of several objects: the few statements it becomes
// (`postgres-batch-sql.ts`) leave the projection as applying each change alone would.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FeedChange, FeedCommit } from "../../src/feed/feed-changes.ts";
import { PostgresSink } from "../../src/feed/postgres-sink.ts";
import { feedSchema } from "../support/feed-postgres.ts";

const A = "a".repeat(64);
const B = "b".repeat(64);

const put = (key: string, value: unknown): FeedChange => ({ kind: "kv", op: "put", key, value });
const del = (key: string): FeedChange => ({ kind: "kv", op: "delete", key });
const insert = (id: number, name: string, qty: number): FeedChange => ({
  kind: "row",
  table: "items",
  op: "insert",
  key: { id: BigInt(id) },
  values: { id: BigInt(id), name, qty: BigInt(qty) },
});
const update = (id: number, values: Record<string, bigint | string>): FeedChange => ({
  kind: "row",
  table: "items",
  op: "update",
  key: { id: BigInt(id) },
  values,
});
const remove = (id: number): FeedChange => ({
  kind: "row",
  table: "items",
  op: "delete",
  key: { id: BigInt(id) },
  values: undefined,
});
const commits = (...changes: FeedChange[][]): FeedCommit[] =>
  changes.map((c, i) => ({ seq: i + 1, at: Date.now(), changes: c }));

describe("change feed into PostgreSQL, many commits per call", () => {
  it("gives the projection each change alone would: keys met again, deletes, re-inserts", async () => {
    await using pg = await feedSchema();
    const sink = new PostgresSink(pg.url);
    try {
      const outcomes = await sink.apply([
        {
          className: "Cart",
          id: A,
          name: "a",
          contiguous: true,
          commits: commits(
            [put("k1", 1), insert(1, "a", 1), insert(2, "b", 2)],
            [put("k1", 2), put("k2", 5), update(1, { qty: 2n })],
            [del("k2"), remove(1), remove(2)],
            [insert(1, "c", 3), insert(2, "d", 4), insert(3, "e", 5)],
            [put("k2", { n: 7 }), update(2, { name: "dd", qty: 40n }), remove(3)],
            [insert(3, "f", 6), del("k1"), put("k1", "back")],
          ),
        },
        {
          className: "Cart",
          id: B,
          name: "b",
          contiguous: true,
          commits: commits([insert(1, "x", 9), insert(2, "y", 8), del("nothing")], [remove(2)]),
        },
      ]);
      assert.deepEqual(outcomes, [
        { applied: 6, gap: false },
        { applied: 2, gap: false },
      ]);
      const items = await pg.query(
        `SELECT object_id, id, name, qty FROM "${pg.schema}"."Cart_items" ORDER BY object_id, id`,
      );
      assert.deepEqual(items, [
        { object_id: A, id: "1", name: "c", qty: "3" },
        { object_id: A, id: "2", name: "dd", qty: "40" },
        { object_id: A, id: "3", name: "f", qty: "6" },
        { object_id: B, id: "1", name: "x", qty: "9" },
      ]);
      const kv = await pg.query(
        `SELECT object_id, key, value FROM "${pg.schema}"."Cart__kv" ORDER BY object_id, key`,
      );
      assert.deepEqual(kv, [
        { object_id: A, key: "k1", value: "back" },
        { object_id: A, key: "k2", value: { n: 7 } },
      ]);
      const [raw] = await pg.query<{ n: string }>(
        `SELECT count(*) AS n FROM "${pg.schema}".feed_changes`,
      );
      assert.equal(Number(raw!.n), 22, "every change is recorded as it came");
    } finally {
      await sink.close();
    }
  });

  it("applies a commit once when another sink moved the object's cursor since this one saw it", async () => {
    await using pg = await feedSchema();
    // Two sinks on one schema: two nodes, or a node and the restart that took its objects over.
    const first = new PostgresSink(pg.url);
    const second = new PostgresSink(pg.url);
    const counter = (upTo: number) => ({
      className: "Cart",
      id: A,
      name: "a",
      contiguous: true,
      commits: commits(...Array.from({ length: upTo }, (_, i) => [put("n", i + 1)])),
    });
    const only = (batch: ReturnType<typeof counter>, from: number) => ({
      ...batch,
      commits: batch.commits.filter((commit) => commit.seq >= from),
    });
    try {
      assert.deepEqual(await first.apply([counter(3)]), [{ applied: 3, gap: false }]);
      assert.deepEqual(await second.apply([counter(5)]), [{ applied: 5, gap: false }]);
      // The first sink last saw 3: commit 4 again must not take the value (or the cursor) back.
      assert.deepEqual(await first.apply([only(counter(4), 4)]), [{ applied: 5, gap: false }]);
      assert.deepEqual(await pg.query(`SELECT value FROM "${pg.schema}"."Cart__kv"`), [
        { value: 5 },
      ]);
      assert.deepEqual(await first.apply([only(counter(6), 4)]), [{ applied: 6, gap: false }]);
      const kv = await pg.query<{ value: number }>(`SELECT value FROM "${pg.schema}"."Cart__kv"`);
      assert.deepEqual(kv, [{ value: 6 }]);
      const raw = await pg.query<{ seq: string; n: string }>(
        `SELECT seq, count(*) AS n FROM "${pg.schema}".feed_changes GROUP BY seq ORDER BY seq`,
      );
      assert.deepEqual(
        raw.map((row) => [Number(row.seq), Number(row.n)]),
        [1, 2, 3, 4, 5, 6].map((seq) => [seq, 1]),
      );
      const [cursor] = await pg.query<{ seq: string }>(
        `SELECT seq FROM "${pg.schema}".feed_cursors`,
      );
      assert.equal(Number(cursor!.seq), 6);
    } finally {
      await first.close();
      await second.close();
    }
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createRuntime } from "stead";
import { runtimeAdmin } from "../../src/embedded/runtime-admin.ts";
import { feedSchema } from "../support/feed-postgres.ts";
import { storageOptions } from "../support/storage.ts";

const WORKER = new URL("../fixtures/feed-worker.ts", import.meta.url);

async function feedRuntime(sink: string, options: Record<string, unknown> = {}) {
  const rt = await createRuntime({
    main: WORKER,
    durableObjects: { CART: "Cart", OTHER: "Other" },
    feed: { classes: ["Cart"], sinks: [sink] },
    ...storageOptions(),
    ...options,
  });
  return {
    rt,
    carts: rt.env.CART as any,
    others: rt.env.OTHER as any,
    feed: runtimeAdmin(rt).feed!,
  };
}

describe("change feed into PostgreSQL", () => {
  it("projects SQL rows and KV entries per object, and records every change", async () => {
    await using pg = await feedSchema();
    const { rt, carts, others, feed } = await feedRuntime(pg.url);
    await using _ = rt;
    const a = carts.getByName("a");
    const b = carts.getByName("b");
    await a.exec([
      [
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price REAL, data BLOB)",
      ],
      ["INSERT INTO items VALUES (1, 'apple', 3, 1.5, x'00ff')"],
      ["INSERT INTO items VALUES (2, 'pear', 1, 2.0, NULL)"],
    ]);
    await b.exec([
      [
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price REAL, data BLOB)",
      ],
      ["INSERT INTO items VALUES (1, 'fig', 9, 0.25, NULL)"],
    ]);
    await a.execEach([
      ["UPDATE items SET qty = qty + 1 WHERE id = 1"],
      ["DELETE FROM items WHERE id = 2"],
      ["INSERT INTO items VALUES (3, 'kiwi', 5, 3.0, NULL)"],
    ]);
    await a.put("owner", { name: "ada", tags: ["x"] });
    await a.put("gone", 1);
    await a.del("gone");
    await others.getByName("a").put("k", 1);
    await feed.drained();

    const aId = a.id.toString();
    const bId = b.id.toString();
    const items = await pg.query(
      `SELECT object_id, id, name, qty, price, data FROM "${pg.schema}"."Cart_items" ORDER BY object_id = $1 DESC, id`,
      [aId],
    );
    assert.deepEqual(items, [
      { object_id: aId, id: "1", name: "apple", qty: "4", price: 1.5, data: Buffer.from([0, 255]) },
      { object_id: aId, id: "3", name: "kiwi", qty: "5", price: 3, data: null },
      { object_id: bId, id: "1", name: "fig", qty: "9", price: 0.25, data: null },
    ]);
    const kv = await pg.query(`SELECT object_id, key, value FROM "${pg.schema}"."Cart__kv"`);
    assert.deepEqual(kv, [{ object_id: aId, key: "owner", value: { name: "ada", tags: ["x"] } }]);
    const cursors = await pg.query<{ object_id: string; seq: string }>(
      `SELECT object_id, seq FROM "${pg.schema}".feed_cursors ORDER BY seq DESC`,
    );
    assert.deepEqual(
      cursors.map((row) => [row.object_id, Number(row.seq)]),
      [
        [aId, 7],
        [bId, 1],
      ],
    );
    const changes = await pg.query<{ seq: string; kind: string; op: string; table: string | null }>(
      `SELECT seq, kind, op, "table" FROM "${pg.schema}".feed_changes WHERE object_id = $1 ORDER BY seq, idx`,
      [aId],
    );
    assert.deepEqual(
      changes.map((row) => `${row.seq} ${row.kind} ${row.op} ${row.table ?? ""}`.trim()),
      [
        "1 row insert items",
        "1 row insert items",
        "2 row update items",
        "3 row delete items",
        "4 row insert items",
        "5 kv put",
        "6 kv put",
        "7 kv delete",
      ],
    );
    // The feed's table is hidden from the app as _cf_KV is: listed by sqlite_master, not readable.
    assert.ok((await a.tables()).includes("_cf_changes"));
    await assert.rejects(
      a.rows("_cf_changes"),
      /access to _cf_changes\.\w+ is prohibited|not authorized/,
    );
    assert.deepEqual(feed.status().sinks[0]!.failingObjects, 0);
  });

  it("feeds KV written with and without SQL in a transaction, and nothing rolled back", async () => {
    await using pg = await feedSchema();
    const { rt, carts, feed } = await feedRuntime(pg.url);
    await using _ = rt;
    const cart = carts.getByName("mixed");
    await cart.mixed();
    await feed.drained();
    const id = cart.id.toString();
    const kv = await pg.query<{ key: string; value: number }>(
      `SELECT key, value FROM "${pg.schema}"."Cart__kv" WHERE object_id = $1 ORDER BY key`,
      [id],
    );
    assert.deepEqual(
      kv.map((row) => `${row.key}=${row.value}`),
      ["a=6", "c=4", "d=2", "e=1", "g=1"],
    );
    assert.deepEqual(await pg.query(`SELECT id, v FROM "${pg.schema}"."Cart_t"`), [
      { id: "1", v: "x" },
    ]);
    const changes = await pg.query<{ seq: string; kind: string; op: string; key: unknown }>(
      `SELECT seq, kind, op, key FROM "${pg.schema}".feed_changes WHERE object_id = $1 ORDER BY seq, idx`,
      [id],
    );
    const described = changes.map(
      (row) => `${row.seq} ${row.kind} ${row.op} ${JSON.stringify(row.key)}`,
    );
    // Commit 1: each key's last write. Commit 2: KV before the SQL, then the session's changes
    // (KV after it included). The rolled-back transaction made no commit.
    assert.deepEqual(described.slice(0, 2), ['1 kv put "c"', '1 kv put "a"']);
    assert.equal(described[2], '2 kv put "d"');
    assert.deepEqual(described.slice(3, 6).sort(), [
      '2 kv put "d"',
      '2 kv put "e"',
      '2 row insert {"id":1}',
    ]);
    assert.deepEqual(described.slice(6), ['3 kv put "g"']);
    assert.deepEqual(
      await cart.kv(),
      { a: 6, c: 4, d: 2, e: 1, g: 1 },
      "the object holds what the projection shows",
    );
    await cart.deleteAll();
    await feed.drained();
    assert.deepEqual(
      await pg.query(`SELECT key FROM "${pg.schema}"."Cart__kv" WHERE object_id = $1`, [id]),
      [],
      "deleteAll() feeds a delete of every key",
    );
  });
});

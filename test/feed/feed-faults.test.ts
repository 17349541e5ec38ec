import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createRuntime } from "stead";
import { runtimeAdmin } from "../../src/embedded/runtime-admin.ts";
import { feedSchema } from "../support/feed-postgres.ts";
import { storageOptions } from "../support/storage.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";
import { waitFor } from "../support/wait-for.ts";

const WORKER = new URL("../fixtures/feed-worker.ts", import.meta.url);
const ITEMS = "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)";

async function feedRuntime(sink: string, errors: string[] = []) {
  const rt = await createRuntime({
    main: WORKER,
    durableObjects: { CART: "Cart" },
    feed: { classes: ["Cart"], sinks: [sink] },
    onError: (error) => errors.push(error instanceof Error ? error.message : String(error)),
    ...storageOptions(),
  });
  return { rt, carts: rt.env.CART as any, feed: runtimeAdmin(rt).feed! };
}

describe("change feed faults", () => {
  it("waits while PostgreSQL is unreachable or cut mid-stream, shows its lag, then catches up exactly", async () => {
    await using pg = await feedSchema();
    await using proxy = await TcpProxy.start({ host: "127.0.0.1", port: 5432 });
    const url = new URL(pg.url);
    url.host = proxy.address;
    const { rt, carts, feed } = await feedRuntime(url.href);
    await using _ = rt;
    const cart = carts.getByName("a");
    await cart.exec([[ITEMS], ["INSERT INTO items VALUES (0, 'first', 0)"]]);
    await feed.drained();

    proxy.mode = "refuse";
    proxy.cut();
    for (let i = 1; i <= 20; i++)
      await cart.exec([["INSERT INTO items VALUES (?, 'down', ?)", i, i]]);
    await waitFor(() => feed.status().sinks[0]!.pendingCommits === 20, "20 commits waiting");
    await waitFor(() => feed.status().sinks[0]!.lagMs > 0, "a lag");
    assert.equal(
      (await pg.query(`SELECT count(*)::int AS n FROM "${pg.schema}"."Cart_items"`))[0]!.n,
      1,
    );

    // Back, and cut again and again while it ships and the object writes on.
    proxy.pass();
    for (let i = 21; i <= 120; i++) {
      await cart.exec([["INSERT OR REPLACE INTO items VALUES (?, 'up', ?)", i % 50, i]]);
      if (i % 15 === 0) proxy.cut();
    }
    await feed.drained();
    const own = ((await cart.rows("items")) as any[]).map((row) => [row.id, row.name, row.qty]);
    const projected = (
      await pg.query<any>(`SELECT id, name, qty FROM "${pg.schema}"."Cart_items" ORDER BY id`)
    ).map((row) => [Number(row.id), row.name, Number(row.qty)]);
    assert.deepEqual(
      projected,
      own.sort((a, b) => a[0] - b[0]),
    );
    const [counts] = await pg.query<{ n: number; distinct_commits: number; last: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT seq)::int AS distinct_commits, max(seq)::int AS last FROM "${pg.schema}".feed_changes`,
    );
    assert.deepEqual(counts, { n: 121, distinct_commits: 121, last: 121 });
    assert.equal(feed.status().sinks[0]!.lagMs, 0);
  });

  it("names a change PostgreSQL rejects and its object; the object waits, the others go on", async () => {
    await using pg = await feedSchema();
    // An operator's projection table whose qty is an integer.
    await pg.query(`CREATE SCHEMA "${pg.schema}"`);
    await pg.query(
      `CREATE TABLE "${pg.schema}"."Cart_items" (object_id text, id bigint, name text, qty integer, PRIMARY KEY (object_id, id))`,
    );
    const errors: string[] = [];
    const { rt, carts, feed } = await feedRuntime(pg.url, errors);
    await using _ = rt;
    const good = carts.getByName("good");
    const bad = carts.getByName("bad");
    await bad.exec([[ITEMS], ["INSERT INTO items VALUES (1, 'ok', 1)"]]);
    await bad.exec([["INSERT INTO items VALUES (2, 'text qty', 'lots')"]]);
    await bad.exec([["INSERT INTO items VALUES (3, 'after', 3)"]]);
    await good.exec([[ITEMS], ["INSERT INTO items VALUES (1, 'fine', 5)"]]);
    await waitFor(() => feed.status().sinks[0]!.failingObjects === 1, "the bad object failing");
    const badId = bad.id.toString();
    await waitFor(
      async () =>
        (await pg.query(`SELECT 1 FROM "${pg.schema}"."Cart_items" WHERE name = 'fine'`)).length ===
        1,
      "the good object's row",
    );
    const status = feed.status().sinks[0]!;
    assert.equal(status.errors[0]!.id, badId);
    assert.equal(status.errors[0]!.seq, 2);
    assert.equal(status.errors[0]!.table, "items");
    assert.match(status.errors[0]!.message, /invalid input syntax for type integer: "lots"/);
    const line = errors.find((message) => message.includes(badId));
    assert.match(
      line ?? "",
      new RegExp(`Cart ${badId} commit 2 \\(table items\\) was not applied`),
    );
    // The commit before it is applied; the one after waits behind it.
    const rows = await pg.query<{ id: string }>(
      `SELECT id FROM "${pg.schema}"."Cart_items" WHERE object_id = $1 ORDER BY id`,
      [badId],
    );
    assert.deepEqual(
      rows.map((row) => Number(row.id)),
      [1],
    );

    // The operator fixes the table: the retry applies the rest, once.
    await pg.query(`ALTER TABLE "${pg.schema}"."Cart_items" ALTER COLUMN qty TYPE text`);
    await feed.drained();
    const after = await pg.query<{ id: string; qty: string }>(
      `SELECT id, qty FROM "${pg.schema}"."Cart_items" WHERE object_id = $1 ORDER BY id`,
      [badId],
    );
    assert.deepEqual(
      after.map((row) => [Number(row.id), row.qty]),
      [
        [1, "1"],
        [2, "lots"],
        [3, "3"],
      ],
    );
    assert.equal(feed.status().sinks[0]!.failingObjects, 0);
  });
});

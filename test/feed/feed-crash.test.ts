import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createRuntime } from "stead";
import { runtimeAdmin } from "../../src/embedded/runtime-admin.ts";
import { CRASH_SEED, runAndKill } from "../support/crash-workload.ts";
import { type FeedSchema, feedSchema } from "../support/feed-postgres.ts";
import { testStore } from "../support/storage.ts";

const WORKER = new URL("../fixtures/feed-worker.ts", import.meta.url);
const CHILD = fileURLToPath(new URL("../fixtures/feed-crash-child.ts", import.meta.url));
const OBJECTS = 4;

/** Each object's rows and KV entries, as the object holds them and as the projection does. */
async function assertProjectionMatches(carts: any, pg: FeedSchema): Promise<number> {
  let rows = 0;
  for (let i = 0; i < OBJECTS; i++) {
    const cart = carts.getByName(`cart-${i}`);
    const id = cart.id.toString();
    const own = ((await cart.rows("items")) as any[])
      .map((row) => ({
        id: Number(row.id),
        name: row.name,
        qty: Number(row.qty),
        price: row.price,
      }))
      .sort((a, b) => a.id - b.id);
    const projected = (
      await pg.query<any>(
        `SELECT id, name, qty, price FROM "${pg.schema}"."Cart_items" WHERE object_id = $1 ORDER BY id`,
        [id],
      )
    ).map((row) => ({
      id: Number(row.id),
      name: row.name,
      qty: Number(row.qty),
      price: row.price,
    }));
    assert.deepEqual(projected, own, `cart-${i}'s items`);
    rows += own.length;
    const kv = await cart.kv();
    const projectedKv = await pg.query<{ key: string; value: unknown }>(
      `SELECT key, value FROM "${pg.schema}"."Cart__kv" WHERE object_id = $1 ORDER BY key`,
      [id],
    );
    assert.deepEqual(
      Object.fromEntries(projectedKv.map((row) => [row.key, row.value])),
      Object.fromEntries(Object.entries(kv).sort(([a], [b]) => (a < b ? -1 : 1))),
      `cart-${i}'s KV`,
    );
    // Every commit applied once: sequence numbers 1..cursor, each present, none twice.
    const [seqs] = await pg.query<{ commits: string; last: string; cursor: string }>(
      `SELECT count(DISTINCT seq) AS commits, max(seq) AS last,
        (SELECT seq FROM "${pg.schema}".feed_cursors WHERE class = 'Cart' AND object_id = $1) AS cursor
       FROM "${pg.schema}".feed_changes WHERE object_id = $1`,
      [id],
    );
    assert.equal(Number(seqs!.commits), Number(seqs!.last), `cart-${i}: a commit is missing`);
    assert.equal(
      Number(seqs!.cursor),
      Number(seqs!.last),
      `cart-${i}: cursor and changes disagree`,
    );
  }
  return rows;
}

describe("change feed crashes", () => {
  it(`after SIGKILLs mid-stream, the projection equals the objects' tables row for row (seed ${CRASH_SEED})`, async () => {
    using store = testStore("stead-feed-crash-");
    await using pg = await feedSchema();
    // The first run's sink is down the whole time: its commits wait in the objects' _cf_changes.
    const down = new URL(pg.url);
    down.port = "1";
    for (let run = 0; run < 3; run++) {
      const env = { ...store.env, FEED_SINK: run === 0 ? down.href : pg.url };
      const child = await runAndKill(
        { dataDir: store.dataDir, env },
        run,
        CRASH_SEED,
        100 + 100 * run,
        CHILD,
      );
      assert.equal(child.signal, "SIGKILL", child.stderr);
    }
    // A last start ships what the killed runs recorded and did not ship.
    await using rt = await createRuntime({
      main: WORKER,
      durableObjects: { CART: "Cart" },
      ...store.options,
      feed: { classes: ["Cart"], sinks: [pg.url] },
    });
    const feed = runtimeAdmin(rt).feed!;
    await feed.drained();
    const rows = await assertProjectionMatches(rt.env.CART, pg);
    assert.ok(rows > 0, "the workload wrote rows");
    assert.equal(feed.status().sinks[0]!.failingObjects, 0);
  });
});

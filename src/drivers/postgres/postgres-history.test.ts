// Point-in-time recovery on the PostgreSQL driver, against a real PostgreSQL: pruning keeps
// exactly the retention window (an injected clock, no sleeps), restores inside it are exact, a
// recorded restore outlives the data directory, and pruning racing commits loses nothing.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import type { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { postgresQuery, tempSchema } from "../../../test/support/storage.ts";
import { tempDataDir } from "../../../test/support/temp-dir.ts";
import { eventually } from "../../../test/support/wait-for.ts";
import { pruneObject } from "./history-pruning.ts";
import { PgPool } from "./pg-pool.ts";
import { PostgresDriver } from "./postgres-driver.ts";
import { parseStorageUrl } from "./storage-url.ts";

const ID = "e".repeat(64);

function dump(db: DatabaseSync): string {
  return JSON.stringify(
    db
      .prepare("SELECT n, hex(v) AS v FROM t ORDER BY n")
      .all()
      .map((row) => ({ ...row })),
  );
}

/** A pool of its own on the schema, as another process's would be. */
function otherProcess(url: string): { pool: PgPool; S: string } & AsyncDisposable {
  const parsed = parseStorageUrl(url);
  const pool = new PgPool(parsed.connect, 2);
  return { pool, S: `"${parsed.schema}"`, [Symbol.asyncDispose]: () => pool.end() };
}

async function pruneAll(owner: { pool: PgPool; S: string }, cutoff: number): Promise<void> {
  while (await pruneObject(owner, "Ns", ID, cutoff)) {}
}

describe("PostgreSQL history", () => {
  it("prunes exactly the states replaced before the window; every state inside it restores exactly", async () => {
    await using schema = tempSchema();
    using dir = tempDataDir("stead-postgres-history-");
    let clock = 1_000_000;
    const driver = await PostgresDriver.connect({
      url: schema.url,
      dataDir: dir.path,
      compactAfter: 4,
      historyRetentionMs: 10_000,
      now: () => clock,
    });
    await using other = otherProcess(schema.url);
    try {
      await driver.prepareObject("Ns", ID);
      const handle = driver.openObject("Ns", ID);
      const history = handle.history!;
      handle.sqlite.exec("CREATE TABLE t (n INTEGER PRIMARY KEY, v BLOB)");
      await handle.flush();
      // Row 1 (the table) at 1,000,000; row i + 2 at 1,000,000 + 1,000 * (i + 1).
      const states: Array<{ position: number; rows: string }> = [];
      for (let i = 0; i < 30; i++) {
        clock += 1000;
        handle.sqlite.exec(`INSERT INTO t VALUES (${i}, randomblob(${(i % 5) * 3000}))`);
        if (i % 4 === 3) handle.sqlite.exec(`DELETE FROM t WHERE n = ${i - 2}`);
        await handle.flush();
        states.push({ position: await history.currentPosition(), rows: dump(handle.sqlite) });
      }
      // Now 1,030,000: the window starts at 1,020,000. State k (after row k + 2) was replaced
      // by row k + 3 at 1,002,000 + 1,000 k, so states 0..17 were replaced before it and 18..
      // (rows 20..31) are kept.
      await pruneAll(other, clock - 10_000);
      const [base] = (await postgresQuery(
        `SELECT base_txid FROM "${schema.name}".object_history WHERE id = $1`,
        [ID],
      )) as Array<{ base_txid: string }>;
      assert.equal(Number(base!.base_txid), 20, "the base is the oldest kept state (row 20)");
      const [log] = (await postgresQuery(
        `SELECT min(txid) AS first, max(txid) AS last FROM "${schema.name}".object_log WHERE id = $1`,
        [ID],
      )) as Array<{ first: string; last: string }>;
      assert.equal(Number(log!.first), 21, "rows up to the base are gone");
      assert.equal(Number(log!.last), 31);
      for (const [k, state] of states.entries()) {
        assert.equal(
          await history.check(state.position),
          k < 18 ? "too-old" : "kept",
          `state ${k}`,
        );
      }
      assert.equal(await history.positionAt(clock - 10_001), "too-old");
      assert.equal(await history.positionAt(clock - 10_000), states[19]!.position);
      // Pruning again with the same window changes nothing.
      assert.equal(await pruneObject(other, "Ns", ID, clock - 10_000), false);
      for (const state of states.slice(18).reverse()) {
        await history.restoreOnNextStart(state.position);
        await driver.prepareObject("Ns", ID);
        assert.equal(dump(handle.sqlite), state.rows);
      }
      const integrity = handle.sqlite.prepare("PRAGMA integrity_check").get();
      assert.equal(integrity?.integrity_check, "ok");
    } finally {
      await driver.close();
    }
  });

  it("applies a restore recorded before the data directory was deleted, once", async () => {
    await using schema = tempSchema();
    using dir = tempDataDir("stead-postgres-history-");
    let driver = await PostgresDriver.connect({ url: schema.url, dataDir: dir.path });
    await driver.prepareObject("Ns", ID);
    let handle = driver.openObject("Ns", ID);
    handle.sqlite.exec(
      "CREATE TABLE t (n INTEGER PRIMARY KEY, v BLOB); INSERT INTO t VALUES (1, x'01')",
    );
    await handle.flush();
    const bookmark = await handle.history!.currentPosition();
    const before = dump(handle.sqlite);
    handle.sqlite.exec(
      "INSERT INTO t VALUES (2, x'02'); DROP TABLE IF EXISTS u; CREATE TABLE u (x)",
    );
    await handle.flush();
    await handle.history!.restoreOnNextStart(bookmark);
    await driver.close();
    rmSync(dir.path, { recursive: true, force: true });

    driver = await PostgresDriver.connect({ url: schema.url, dataDir: dir.path });
    try {
      await driver.prepareObject("Ns", ID);
      handle = driver.openObject("Ns", ID);
      assert.equal(dump(handle.sqlite), before);
      handle.sqlite.exec("INSERT INTO t VALUES (3, x'03')");
      await handle.flush();
      const after = dump(handle.sqlite);
      // The next start finds no restore recorded: the commit after the restore stays.
      await driver.prepareObject("Ns", ID);
      assert.equal(dump(handle.sqlite), after);
      const [row] = (await postgresQuery(
        `SELECT restore_txid, generations FROM "${schema.name}".object_history WHERE id = $1`,
        [ID],
      )) as Array<{ restore_txid: string | null; generations: string[] }>;
      assert.equal(row!.restore_txid, null);
      assert.deepEqual(row!.generations.map(Number), [3], "the restore was row 3");
    } finally {
      await driver.close();
    }
  });

  it("loses nothing when prunes from two other processes race a stream of commits", async () => {
    await using schema = tempSchema();
    using dir = tempDataDir("stead-postgres-history-");
    let clock = 5_000_000;
    let driver = await PostgresDriver.connect({
      url: schema.url,
      dataDir: dir.path,
      compactAfter: 8,
      historyRetentionMs: 50_000,
      now: () => clock,
    });
    await using first = otherProcess(schema.url);
    await using second = otherProcess(schema.url);
    try {
      await driver.prepareObject("Ns", ID);
      const handle = driver.openObject("Ns", ID);
      const history = handle.history!;
      handle.sqlite.exec("CREATE TABLE t (n INTEGER PRIMARY KEY, v BLOB)");
      await handle.flush();
      const states: Array<{ position: number; rows: string; time: number }> = [];
      let done = false;
      const pruner = async (owner: { pool: PgPool; S: string }) => {
        let passes = 0;
        while (!done) {
          await pruneObject(owner, "Ns", ID, clock - 50_000);
          passes++;
        }
        return passes;
      };
      const pruning = Promise.all([pruner(first), pruner(second)]);
      for (let i = 0; i < 200; i++) {
        clock += 1000;
        handle.sqlite.exec(
          `INSERT OR REPLACE INTO t VALUES (${i % 37}, randomblob(${(i % 3) * 2500}))`,
        );
        await handle.flush();
        states.push({
          position: await history.currentPosition(),
          rows: dump(handle.sqlite),
          time: clock,
        });
      }
      done = true;
      const passes = await pruning;
      assert.ok(
        passes.every((n) => n > 0),
        `both pruners ran (${passes})`,
      );
      await pruneAll(first, clock - 50_000);
      // Every state replaced within the window is kept and restores exactly (every 10th, newest first).
      const kept = states.filter(
        (_, k) => k === states.length - 1 || states[k + 1]!.time >= clock - 50_000,
      );
      assert.equal(kept.length, 52);
      for (const state of states.slice(0, -kept.length)) {
        assert.equal(await history.check(state.position), "too-old");
      }
      const newest = states[states.length - 1]!;
      for (const [k, state] of [...kept].reverse().entries()) {
        if (k % 10 !== 0 && state !== kept[0]) continue;
        assert.equal(await history.check(state.position), "kept");
        await history.restoreOnNextStart(state.position);
        await driver.prepareObject("Ns", ID);
        assert.equal(dump(handle.sqlite), state.rows);
      }
      // And the newest state comes back whole from PostgreSQL alone.
      await history.restoreOnNextStart(newest.position);
      await driver.prepareObject("Ns", ID);
      await driver.close();
      rmSync(dir.path, { recursive: true, force: true });
      driver = await PostgresDriver.connect({ url: schema.url, dataDir: dir.path });
      await driver.prepareObject("Ns", ID);
      assert.equal(dump(driver.openObject("Ns", ID).sqlite), newest.rows);
    } finally {
      await driver.close();
    }
  });

  it("starts history for an object whose compacted rows were deleted (history off before, or schema version 1)", async () => {
    await using schema = tempSchema();
    using dir = tempDataDir("stead-postgres-history-");
    let driver = await PostgresDriver.connect({
      url: schema.url,
      dataDir: dir.path,
      compactAfter: 4,
      historyRetentionMs: 0,
    });
    await driver.prepareObject("Ns", ID);
    let handle = driver.openObject("Ns", ID);
    assert.equal(handle.history, undefined, "no history with a retention of 0");
    handle.sqlite.exec("CREATE TABLE t (n INTEGER PRIMARY KEY, v BLOB)");
    for (let i = 0; i < 12; i++) {
      handle.sqlite.exec(`INSERT INTO t VALUES (${i}, randomblob(100))`);
      await handle.flush();
    }
    await driver.close();
    const history = async () =>
      (
        (await postgresQuery(
          `SELECT h.base_txid, o.snap_txid FROM "${schema.name}".object_history h JOIN "${schema.name}".objects o USING (namespace, id)`,
        )) as Array<{ base_txid: string | null; snap_txid: string }>
      )[0]!;
    assert.equal((await history()).base_txid, null, "compaction dropped the history");

    driver = await PostgresDriver.connect({ url: schema.url, dataDir: dir.path });
    try {
      await driver.prepareObject("Ns", ID);
      handle = driver.openObject("Ns", ID);
      // The prepare started the base from the compacted pages, in the background.
      const started = await eventually("a base", async () => {
        const row = await history();
        return row.base_txid === null ? undefined : row;
      });
      assert.equal(started.base_txid, started.snap_txid);
      const at = await handle.history!.currentPosition();
      const rows = dump(handle.sqlite);
      handle.sqlite.exec("DELETE FROM t");
      await handle.flush();
      assert.equal(await handle.history!.check(at), "kept");
      await handle.history!.restoreOnNextStart(at);
      await driver.prepareObject("Ns", ID);
      assert.equal(dump(handle.sqlite), rows);
    } finally {
      await driver.close();
    }
  });

  it("a restore one process recorded is applied by the next process to start the object, fenced", async () => {
    await using schema = tempSchema();
    using dirA = tempDataDir("stead-postgres-a-");
    using dirB = tempDataDir("stead-postgres-b-");
    const a = await PostgresDriver.connect({ url: schema.url, dataDir: dirA.path });
    const b = await PostgresDriver.connect({ url: schema.url, dataDir: dirB.path });
    try {
      await a.prepareObject("Ns", ID);
      const handleA = a.openObject("Ns", ID);
      handleA.sqlite.exec(
        "CREATE TABLE t (n INTEGER PRIMARY KEY, v BLOB); INSERT INTO t VALUES (1, x'01')",
      );
      await handleA.flush();
      const first = await handleA.history!.currentPosition();
      const rows = dump(handleA.sqlite);
      handleA.sqlite.exec("INSERT INTO t VALUES (2, x'02')");
      await handleA.flush();
      await handleA.history!.restoreOnNextStart(first);

      await b.prepareObject("Ns", ID);
      const handleB = b.openObject("Ns", ID);
      assert.equal(dump(handleB.sqlite), rows, "B started the object restored");
      // A still thinks it holds the object: its commit and its next restore are refused.
      handleA.sqlite.exec("INSERT INTO t VALUES (3, x'03')");
      await assert.rejects(handleA.flush(), { code: "OBJECT_FENCED" });
      await assert.rejects(handleA.history!.restoreOnNextStart(first), { code: "OBJECT_FENCED" });
      // B's history goes on from the restore: the state before it is still there to undo it.
      handleB.sqlite.exec("INSERT INTO t VALUES (4, x'04')");
      await handleB.flush();
      assert.ok((await handleB.history!.currentPosition()) >= 2 ** 32, "a new generation");
      assert.equal(await handleB.history!.check(first), "kept");
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("prunes in the background when the object starts again, in bounded passes until the window is reached", async () => {
    await using schema = tempSchema();
    using dir = tempDataDir("stead-postgres-history-");
    let clock = 1_000_000;
    const driver = await PostgresDriver.connect({
      url: schema.url,
      dataDir: dir.path,
      historyRetentionMs: 10_000,
      now: () => clock,
    });
    try {
      await driver.prepareObject("Ns", ID);
      const handle = driver.openObject("Ns", ID);
      handle.sqlite.exec("CREATE TABLE t (n INTEGER PRIMARY KEY, v BLOB)");
      await handle.flush();
      // More rows than one pass folds (1,024), all older than the window by the end.
      for (let i = 0; i < 1100; i++) {
        clock += 1;
        handle.sqlite.exec(`INSERT OR REPLACE INTO t VALUES (${i % 50}, randomblob(64))`);
        await handle.flush();
      }
      const rows = dump(handle.sqlite);
      clock += 20_000;
      await driver.prepareObject("Ns", ID);
      const base = await eventually("the base at the newest row", async () => {
        const [row] = (await postgresQuery(
          `SELECT base_txid FROM "${schema.name}".object_history WHERE id = $1`,
          [ID],
        )) as Array<{ base_txid: string }>;
        return Number(row!.base_txid) === 1101 ? row : undefined;
      });
      assert.ok(base);
      const [log] = (await postgresQuery(
        `SELECT count(*) AS n FROM "${schema.name}".object_log WHERE id = $1`,
        [ID],
      )) as Array<{ n: string }>;
      assert.ok(Number(log!.n) <= 256, `only rows not yet compacted are left (${log!.n})`);
      const history = handle.history!;
      const newest = await history.currentPosition();
      assert.equal(await history.check(newest - 1), "too-old");
      assert.equal(await history.check(newest), "kept", "the newest state always is");
      await history.restoreOnNextStart(newest);
      await driver.prepareObject("Ns", ID);
      assert.equal(dump(handle.sqlite), rows);
    } finally {
      await driver.close();
    }
  });
});

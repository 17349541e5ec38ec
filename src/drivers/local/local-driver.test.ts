import assert from "node:assert/strict";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { tempDataDir } from "../../../test/support/temp-dir.ts";
import { deferred } from "../../core/deferred.ts";
import type { DatabaseHandle } from "../../core/storage/driver.ts";
import { storageDriverConformance } from "../../testing/storage-driver.case.ts";
import type { LocalDatabaseHandle } from "./database-handle.ts";
import { LocalDriver, type LocalDriverOptions } from "./local-driver.ts";
import { OBJECT_PAGE_SIZE, WAL_FRAME_BYTES, WAL_HEADER_BYTES } from "./sqlite-file.ts";

storageDriverConformance("local", async () => {
  const dir = tempDataDir("stead-local-driver-");
  let driver = new LocalDriver({ dataDir: dir.path });
  return {
    get driver() {
      return driver;
    },
    async restart() {
      await driver.close();
      driver = new LocalDriver({ dataDir: dir.path });
      return driver;
    },
    async [Symbol.asyncDispose]() {
      await driver.close();
      dir[Symbol.dispose]();
    },
  };
});

const id = (n: number) => n.toString(16).padStart(64, "0");

/** A driver on a temporary data directory: closed, then the directory removed, on dispose. */
function tempDriver(options: Omit<LocalDriverOptions, "dataDir"> = {}) {
  const dir = tempDataDir("stead-local-driver-");
  const driver = new LocalDriver({ dataDir: dir.path, ...options });
  return {
    dataDir: dir.path,
    driver,
    async [Symbol.asyncDispose]() {
      await driver.close();
      dir[Symbol.dispose]();
    },
  };
}

function values(handle: DatabaseHandle): unknown[] {
  return handle.sqlite
    .prepare("SELECT v FROM t ORDER BY rowid")
    .all()
    .map((row) => row.v);
}

describe("local driver: open databases", () => {
  it("keeps at most maxOpenDatabases open and reopens closed ones with their data", async () => {
    await using t = tempDriver({ maxOpenDatabases: 2 });
    const handles = Array.from({ length: 6 }, (_, n) => t.driver.openObject("Ns", id(n)));
    for (const [n, handle] of handles.entries()) {
      handle.sqlite.exec(`CREATE TABLE t (v); INSERT INTO t VALUES (${n});`);
      await handle.flush();
      assert.ok(t.driver.openDatabases <= 2, `${t.driver.openDatabases} open after ${n + 1}`);
    }
    for (const [n, handle] of handles.entries()) {
      handle.sqlite.exec(`INSERT INTO t VALUES (${n + 100})`);
      await handle.flush();
      assert.deepEqual(values(handle), [n, n + 100]);
    }
    assert.ok(t.driver.openDatabases <= 2);
  });

  it("keeps the history of an evicted object's small WAL, with its commit times, lazily", async () => {
    let clock = 1_000_000;
    await using t = tempDriver({ maxOpenDatabases: 1, now: () => clock });
    const path = join(t.dataDir, "Ns", `${id(1)}.sqlite`);
    const cold = t.driver.openObject("Ns", id(1));
    cold.sqlite.exec("CREATE TABLE t (v)");
    await cold.flush();
    clock += 1000;
    cold.sqlite.exec("INSERT INTO t VALUES ('one')");
    await cold.flush();
    clock += 1000;
    // Opening another object evicts the first: its WAL stays aside, history written later.
    const other = t.driver.openObject("Ns", id(2));
    other.sqlite.exec("CREATE TABLE t (v)");
    await other.flush();
    assert.ok(existsSync(`${path}-wal.closing`), "the evicted object's WAL is kept aside");
    // What a SIGKILL right now leaves (history written, not synced): the kept WAL comes back.
    using image = tempDataDir("stead-crash-image-");
    mkdirSync(join(image.path, "Ns"));
    for (const suffix of ["", "-wal.closing", "-history"]) {
      copyFileSync(`${path}${suffix}`, join(image.path, "Ns", `${id(1)}.sqlite${suffix}`));
    }
    // Back in use: the commit times noted before the eviction still name its states.
    clock += 1000;
    assert.deepEqual(values(cold), ["one"]);
    const history = cold.history!;
    assert.equal(await history.currentPosition(), 2);
    assert.equal(await history.positionAt(1_000_500), 1);
    assert.equal(await history.positionAt(1_001_500), 2);
    const driver = new LocalDriver({ dataDir: image.path, now: () => clock });
    try {
      const recovered = driver.openObject("Ns", id(1));
      assert.deepEqual(values(recovered), ["one"]);
      assert.equal(await recovered.history!.currentPosition(), 2);
    } finally {
      await driver.close();
    }
  });

  it("never closes a held connection: an open transaction outlives other objects opening", async () => {
    await using t = tempDriver({ maxOpenDatabases: 1 });
    const busy = t.driver.openObject("Ns", id(1));
    busy.sqlite.exec("CREATE TABLE t (v)");
    busy.sqlite.exec("BEGIN; INSERT INTO t VALUES ('in the transaction')");
    const release = busy.hold();
    for (let n = 2; n < 6; n++) {
      t.driver.openObject("Ns", id(n)).sqlite.exec("CREATE TABLE t (v)");
    }
    assert.ok(busy.sqlite.isTransaction, "the transaction is still open");
    busy.sqlite.exec("COMMIT");
    release();
    t.driver.openObject("Ns", id(7)).sqlite.exec("CREATE TABLE t (v)");
    assert.equal(t.driver.openDatabases, 1, "released, it can close again");
    assert.deepEqual(values(busy), ["in the transaction"]);
  });

  it("closes an object's database when it leaves memory, and reopens it on return", async () => {
    await using t = tempDriver();
    const handle = t.driver.openObject("Ns", id(1));
    handle.sqlite.exec("CREATE TABLE t (v); INSERT INTO t VALUES ('a');");
    await handle.flush();
    handle.close();
    assert.equal(t.driver.openDatabases, 0);
    assert.deepEqual(values(t.driver.openObject("Ns", id(1))), ["a"]);
  });

  it("replays the WAL a close kept aside when the checkpoint it made was lost", async () => {
    await using t = tempDriver();
    const path = join(t.dataDir, "Ns", `${id(1)}.sqlite`);
    const kept = `${path}-wal.closing`;
    const handle = t.driver.openObject("Ns", id(1));
    handle.sqlite.exec("CREATE TABLE t (v); INSERT INTO t VALUES ('acknowledged');");
    await handle.flush();
    // The database file before the close: the row is only in the WAL.
    const beforeClose = readFileSync(path);
    handle.close();
    // The close checkpointed into the file and deleted -wal, keeping the WAL's frames aside
    // until the file's fdatasync (off the event loop) completes.
    assert.ok(!existsSync(`${path}-wal`));
    const keptWal = readFileSync(kept);
    await t.driver.close();
    assert.ok(!existsSync(kept), "recycled once the database file is durable");
    assert.ok(existsSync(`${path}-wal`), "as the next connection's (empty) WAL");

    // Power loss before that fdatasync: the checkpoint's writes and the recycling never happened.
    writeFileSync(path, beforeClose);
    writeFileSync(kept, keptWal);
    rmSync(`${path}-wal`);
    const driver = new LocalDriver({ dataDir: t.dataDir });
    try {
      assert.deepEqual(values(driver.openObject("Ns", id(1))), ["acknowledged"]);
      assert.ok(!existsSync(kept), "taken back as the WAL");
    } finally {
      await driver.close();
    }
  });

  it("zero-fills room in the WAL, so commits overwrite, and a crash image still recovers", async () => {
    // The WAL's own syncs make commits durable (the journal never syncs a WAL per commit).
    await using t = tempDriver({ durability: "wal" });
    const path = join(t.dataDir, "Ns", `${id(1)}.sqlite`);
    const handle = t.driver.openObject("Ns", id(1));
    handle.sqlite.exec("CREATE TABLE t (v)");
    await handle.flush();
    const first = statSync(`${path}-wal`).size;
    assert.ok(first < 64 * 1024, "an object written once gets no zeros");
    handle.sqlite.exec("INSERT INTO t VALUES (0)");
    await handle.flush();
    const room = statSync(`${path}-wal`).size;
    assert.ok(room >= 64 * 1024, `WAL extended to ${room} bytes once it grew again`);
    for (let n = 1; n < 5; n++) {
      handle.sqlite.exec(`INSERT INTO t VALUES (${n})`);
      await handle.flush();
    }
    assert.equal(statSync(`${path}-wal`).size, room, "four more commits fit in the room made");

    // What a crash leaves: the files as they are now, with the connection still open.
    using image = tempDataDir("stead-crash-image-");
    mkdirSync(join(image.path, "Ns"));
    for (const suffix of ["", "-wal"]) {
      copyFileSync(`${path}${suffix}`, join(image.path, "Ns", `${id(1)}.sqlite${suffix}`));
    }
    const driver = new LocalDriver({ dataDir: image.path });
    try {
      assert.deepEqual(values(driver.openObject("Ns", id(1))), [0, 1, 2, 3, 4]);
    } finally {
      await driver.close();
    }
  });

  it("reads a recycled WAL as empty: data stays whole across closes and restarts", async () => {
    using dir = tempDataDir("stead-local-driver-");
    const path = join(dir.path, "Ns", `${id(1)}.sqlite`);
    for (const value of ["a", "b", "c"]) {
      const driver = new LocalDriver({ dataDir: dir.path });
      const handle = driver.openObject("Ns", id(1));
      handle.sqlite.exec(`CREATE TABLE IF NOT EXISTS t (v); INSERT INTO t VALUES ('${value}');`);
      await handle.flush();
      await driver.close();
      assert.ok(existsSync(`${path}-wal`) && !existsSync(`${path}-wal.closing`));
    }
    const driver = new LocalDriver({ dataDir: dir.path });
    assert.deepEqual(values(driver.openObject("Ns", id(1))), ["a", "b", "c"]);
    await driver.close();
  });

  it("rejects a maxOpenDatabases that is not a positive integer", () => {
    assert.throws(
      () => new LocalDriver({ dataDir: tmpdir(), maxOpenDatabases: 0 }),
      /maxOpenDatabases must be a positive integer, got 0/,
    );
  });
});

describe("local driver: page size", () => {
  it("makes a new object's database with 1 KiB pages, and keeps an older file's 4 KiB", async () => {
    await using t = tempDriver();
    const pageSize = (handle: DatabaseHandle) =>
      (handle.sqlite.prepare("PRAGMA page_size").get() as { page_size: number }).page_size;
    const fresh = t.driver.openObject("Ns", id(1));
    fresh.sqlite.exec("CREATE TABLE t (v); INSERT INTO t VALUES ('new');");
    await fresh.flush();
    assert.equal(pageSize(fresh), OBJECT_PAGE_SIZE);
    // An object file as Stead made them before: SQLite's default page size.
    mkdirSync(join(t.dataDir, "Ns"), { recursive: true });
    const older = new DatabaseSync(join(t.dataDir, "Ns", `${id(2)}.sqlite`));
    older.exec("PRAGMA journal_mode = WAL; CREATE TABLE t (v); INSERT INTO t VALUES ('old');");
    older.close();
    const reopened = t.driver.openObject("Ns", id(2));
    reopened.sqlite.exec("INSERT INTO t VALUES ('written since');");
    await reopened.flush();
    assert.equal(pageSize(reopened), 4096);
    assert.deepEqual(values(reopened), ["old", "written since"]);
  });
});

describe("local driver: checkpoints", () => {
  const walSize = (t: { dataDir: string }) =>
    statSync(join(t.dataDir, "Ns", `${id(1)}.sqlite-wal`)).size;

  /** The rows the database file holds on its own, without its WAL. */
  function rowsInDatabaseFile(t: { dataDir: string }): number {
    using copy = tempDataDir("stead-checkpoint-");
    const file = join(copy.path, "copy.sqlite");
    copyFileSync(join(t.dataDir, "Ns", `${id(1)}.sqlite`), file);
    const db = new DatabaseSync(file);
    try {
      const tables = db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = 't'").get();
      return tables?.n === 0 ? 0 : Number(db.prepare("SELECT count(*) AS n FROM t").get()?.n);
    } finally {
      db.close();
    }
  }

  /** Reopens the object on a new driver over the same files and reads its rows. */
  async function valuesAfterRestart(t: { dataDir: string; driver: LocalDriver }) {
    await t.driver.close();
    const driver = new LocalDriver({ dataDir: t.dataDir });
    try {
      return values(driver.openObject("Ns", id(1)));
    } finally {
      await driver.close();
    }
  }

  it("checkpoints a quiet WAL into the database file, so the WAL stays short", async () => {
    await using t = tempDriver({ checkpointAfterCommits: 8 });
    const handle = t.driver.openObject("Ns", id(1));
    handle.sqlite.exec("CREATE TABLE t (v)");
    await handle.flush();
    for (let n = 0; n < 300; n++) {
      handle.sqlite.exec(`INSERT INTO t VALUES (${n})`);
      await handle.flush();
    }
    // Checkpoints come every 8 commits (the one of the last 8 is still to come).
    assert.ok(rowsInDatabaseFile(t) >= 292, `${rowsInDatabaseFile(t)} rows in the file`);
    // Without checkpoints the WAL would hold 300 frames of 4 KiB.
    assert.ok(walSize(t) < 256 * 1024, `WAL of ${walSize(t)} bytes`);
    const expected = Array.from({ length: 300 }, (_, n) => n);
    assert.deepEqual(values(handle), expected);
    assert.deepEqual(await valuesAfterRestart(t), expected);
  });

  it("does not extend a WAL checkpointed on time past the size it usually reaches", async () => {
    await using t = tempDriver({ checkpointAfterCommits: 32 });
    const handle = t.driver.openObject("Ns", id(1));
    handle.sqlite.exec("CREATE TABLE t (v)");
    for (let n = 0; n < 200; n++) {
      handle.sqlite.exec(`INSERT INTO t VALUES (${n})`);
      await handle.flush();
    }
    // About 32 + 8 frames of a 1 KiB page; doubling would have gone past it.
    const usual = WAL_HEADER_BYTES + 40 * WAL_FRAME_BYTES;
    assert.ok(walSize(t) <= usual, `WAL of ${walSize(t)} bytes`);
    assert.ok(
      walSize(t) > 32 * WAL_FRAME_BYTES,
      `WAL of ${walSize(t)} bytes, extended up to there`,
    );
  });

  it("finishes the database file's sync before the connection is used after a checkpoint", async () => {
    await using t = tempDriver({ checkpointAfterCommits: 4 });
    const handle = t.driver.openObject("Ns", id(1)) as LocalDatabaseHandle;
    handle.sqlite.exec("CREATE TABLE t (v)");
    await handle.flush();
    for (let n = 0; n < 3; n++) {
      handle.sqlite.exec(`INSERT INTO t VALUES (${n})`);
      await handle.flush();
    }
    // The fourth commit's flush checkpointed; the database file's sync runs on the thread pool,
    // and SQLite's next commit would restart the WAL over frames the file may not hold yet.
    assert.equal(handle.checkpointSyncing, true);
    handle.sqlite.exec("INSERT INTO t VALUES (3)");
    assert.equal(handle.checkpointSyncing, false, "the use finished the sync first");
    await handle.flush();
    assert.deepEqual(await valuesAfterRestart(t), [0, 1, 2, 3]);
  });

  it("checkpoints a WAL that is never quiet, after 16 times as many commits", async () => {
    // Every sync, just before it starts, commits the next row and asks for its flush: a sync is
    // always waiting when one finishes, so the WAL is never quiet until the 300th row.
    let handle: DatabaseHandle | undefined;
    let next = 0;
    let inFileAt200 = -1;
    const written = deferred();
    await using t = tempDriver({
      // Each WAL sync is what the next commit waits behind (the journal syncs on the next turn).
      durability: "wal",
      checkpointAfterCommits: 1,
      // A microtask later: the sync has started by then, and not yet reached its fdatasync.
      beforeFlush: () =>
        queueMicrotask(() => {
          if (handle === undefined || next === 300) return;
          if (next === 200) inFileAt200 = rowsInDatabaseFile(t);
          handle.sqlite.exec(`INSERT INTO t VALUES (${next++})`);
          handle.flush().then(() => next === 300 && written.resolve(), written.reject);
        }),
    });
    handle = t.driver.openObject("Ns", id(1));
    handle.sqlite.exec("CREATE TABLE t (v)");
    await handle.flush();
    await written.promise;
    assert.ok(inFileAt200 >= 200 - 20, `${inFileAt200} of 200 rows in the file`);
    assert.ok(walSize(t) < 256 * 1024, `WAL of ${walSize(t)} bytes`);
    assert.deepEqual(
      await valuesAfterRestart(t),
      Array.from({ length: 300 }, (_, n) => n),
    );
  });

  it("does not checkpoint inside an open transaction", async () => {
    await using t = tempDriver({ checkpointAfterCommits: 1 });
    const handle = t.driver.openObject("Ns", id(1));
    handle.sqlite.exec("CREATE TABLE t (v)");
    await handle.flush();
    handle.sqlite.exec("INSERT INTO t VALUES ('committed')");
    const flushed = handle.flush();
    const release = handle.hold();
    handle.sqlite.exec("BEGIN; INSERT INTO t VALUES ('open')");
    await flushed;
    assert.equal(rowsInDatabaseFile(t), 0, "no checkpoint while the transaction is open");
    handle.sqlite.exec("COMMIT");
    release();
    await handle.flush();
    assert.equal(rowsInDatabaseFile(t), 2, "the next quiet flush checkpoints");
    assert.deepEqual(await valuesAfterRestart(t), ["committed", "open"]);
  });

  it("rejects a checkpointAfterCommits that is not a positive integer", () => {
    assert.throws(
      () => new LocalDriver({ dataDir: tmpdir(), checkpointAfterCommits: 1.5 }),
      /checkpointAfterCommits must be a positive integer, got 1.5/,
    );
  });
});

describe("local driver: object names", () => {
  it("replaces a damaged names file with an empty one, whose names come back as objects open", async () => {
    using dir = tempDataDir("stead-local-driver-");
    const open = async (driver: LocalDriver) => {
      const handle = driver.openObject("Ns", id(1), { name: "first" });
      handle.sqlite.exec("CREATE TABLE IF NOT EXISTS t (v)");
      await handle.flush();
      handle.close();
    };
    let driver = new LocalDriver({ dataDir: dir.path });
    await open(driver);
    await driver.close();
    const names = join(dir.path, "stead-names.sqlite");
    rmSync(`${names}-wal`, { force: true });
    writeFileSync(names, "not a database ".repeat(512));
    driver = new LocalDriver({ dataDir: dir.path });
    try {
      assert.deepEqual(await driver.objectNames("Ns", [id(1)]), new Map());
      await open(driver);
      assert.deepEqual(await driver.objectNames("Ns", [id(1)]), new Map([[id(1), "first"]]));
      assert.equal(statSync(names).mode & 0o777, 0o600);
    } finally {
      await driver.close();
    }
  });
});

import assert from "node:assert/strict";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { postgresQuery, tempSchema } from "../../../test/support/storage.ts";
import { tempDataDir } from "../../../test/support/temp-dir.ts";
import { storageDriverConformance } from "../../testing/storage-driver.case.ts";
import { PostgresDriver } from "./postgres-driver.ts";
import { SCHEMA_VERSION } from "./schema.ts";

storageDriverConformance("postgres", async () => {
  const dir = tempDataDir("stead-postgres-driver-");
  const schema = tempSchema();
  let driver = await PostgresDriver.connect({ url: schema.url, dataDir: dir.path });
  return {
    get driver() {
      return driver;
    },
    async restart() {
      await driver.close();
      driver = await PostgresDriver.connect({ url: schema.url, dataDir: dir.path });
      return driver;
    },
    async [Symbol.asyncDispose]() {
      await driver.close();
      await schema[Symbol.asyncDispose]();
      dir[Symbol.dispose]();
    },
  };
});

const ID = "c".repeat(64);

describe("PostgreSQL driver", () => {
  it("copies an object's database from PostgreSQL as its connection has it, across compactions and a VACUUM", async () => {
    await using schema = tempSchema();
    using dir = tempDataDir("stead-postgres-driver-");
    const driver = await PostgresDriver.connect({
      url: schema.url,
      dataDir: dir.path,
      compactAfter: 4,
    });
    try {
      await driver.prepareObject("Ns", ID);
      const handle = driver.openObject("Ns", ID);
      handle.sqlite.exec("CREATE TABLE t (n INTEGER PRIMARY KEY, v BLOB)");
      await handle.flush();
      const check = async (what: string) => {
        const copy = await driver.snapshotObject("Ns", ID);
        assert.ok(copy !== undefined);
        assert.ok(Buffer.from(copy).equals(Buffer.from(handle.sqlite.serialize())), what);
      };
      for (let n = 0; n < 30; n++) {
        handle.sqlite.exec(`INSERT INTO t VALUES (${n}, randomblob(${(n % 5) * 3000}))`);
        await handle.flush();
        if (n % 7 === 0) await check(`after insert ${n}`);
      }
      // The database shrinks: later rows cut pages that earlier ones wrote.
      handle.sqlite.exec("DELETE FROM t WHERE n % 2 = 0");
      await handle.flush();
      handle.sqlite.exec("VACUUM");
      await handle.flush();
      await check("after a VACUUM");
      handle.sqlite.exec("INSERT INTO t VALUES (100, randomblob(20000))");
      await handle.flush();
      await check("grown again");
    } finally {
      await driver.close();
    }
  });

  it("brings every object back from PostgreSQL when the data directory is gone", async () => {
    await using schema = tempSchema();
    using dir = tempDataDir("stead-postgres-driver-");
    let driver = await PostgresDriver.connect({
      url: schema.url,
      dataDir: dir.path,
      compactAfter: 4,
    });
    await driver.prepareObject("Ns", ID);
    const handle = driver.openObject("Ns", ID);
    handle.sqlite.exec("CREATE TABLE t (n INTEGER PRIMARY KEY, v BLOB)");
    for (let n = 0; n < 50; n++) {
      handle.sqlite.exec(`INSERT INTO t VALUES (${n}, randomblob(${(n % 7) * 1500}))`);
      await handle.flush();
    }
    const expected = handle.sqlite
      .prepare("SELECT n, hex(v) AS v FROM t ORDER BY n")
      .all()
      .map((row) => ({ ...row }));
    await driver.close();
    rmSync(dir.path, { recursive: true, force: true });

    driver = await PostgresDriver.connect({ url: schema.url, dataDir: dir.path });
    try {
      await driver.prepareObject("Ns", ID);
      const again = driver.openObject("Ns", ID);
      assert.deepEqual(
        again.sqlite
          .prepare("SELECT n, hex(v) AS v FROM t ORDER BY n")
          .all()
          .map((row) => ({ ...row })),
        expected,
      );
      assert.deepEqual(
        again.sqlite
          .prepare("PRAGMA integrity_check")
          .all()
          .map((row) => ({ ...row })),
        [{ integrity_check: "ok" }],
      );
      assert.deepEqual(await driver.listObjects("Ns"), [ID]);
    } finally {
      await driver.close();
    }
  });

  it("fences the process with the lower epoch: its commit is refused and it must prepare again", async () => {
    await using schema = tempSchema();
    using dirA = tempDataDir("stead-postgres-a-");
    using dirB = tempDataDir("stead-postgres-b-");
    const a = await PostgresDriver.connect({ url: schema.url, dataDir: dirA.path });
    const b = await PostgresDriver.connect({ url: schema.url, dataDir: dirB.path });
    try {
      await a.prepareObject("Ns", ID);
      const handleA = a.openObject("Ns", ID);
      handleA.sqlite.exec("CREATE TABLE t (v); INSERT INTO t VALUES ('a1')");
      await handleA.flush();

      await b.prepareObject("Ns", ID);
      const handleB = b.openObject("Ns", ID);
      assert.deepEqual(
        handleB.sqlite
          .prepare("SELECT v FROM t")
          .all()
          .map((row) => ({ ...row })),
        [{ v: "a1" }],
      );
      handleB.sqlite.exec("INSERT INTO t VALUES ('b1')");
      await handleB.flush();

      handleA.sqlite.exec("INSERT INTO t VALUES ('a2')");
      await assert.rejects(handleA.flush(), { code: "OBJECT_FENCED" });
      await assert.rejects(handleA.flush(), { code: "OBJECT_FENCED" }, "stays broken");

      // Preparing again takes the object back, with what B committed and not A's refused write.
      await a.prepareObject("Ns", ID);
      const rows = a
        .openObject("Ns", ID)
        .sqlite.prepare("SELECT v FROM t ORDER BY v")
        .all()
        .map((row) => ({ ...row }));
      assert.deepEqual(rows, [{ v: "a1" }, { v: "b1" }]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("refuses an object whose log row does not match its checksum, naming the object and row", async () => {
    await using schema = tempSchema();
    using dir = tempDataDir("stead-postgres-driver-");
    let driver = await PostgresDriver.connect({ url: schema.url, dataDir: dir.path });
    for (const id of [ID, "d".repeat(64)]) {
      await driver.prepareObject("Ns", id);
      const handle = driver.openObject("Ns", id);
      handle.sqlite.exec("CREATE TABLE t (v); INSERT INTO t VALUES (1)");
      await handle.flush();
    }
    await driver.close();
    await postgresQuery(
      `UPDATE "${schema.name}".object_log SET body = overlay(body placing '\\xff'::bytea from 100) WHERE id = $1 AND txid = 1`,
      [ID],
    );
    rmSync(dir.path, { recursive: true, force: true });

    driver = await PostgresDriver.connect({ url: schema.url, dataDir: dir.path });
    try {
      await assert.rejects(driver.prepareObject("Ns", ID), (error: Error & { code?: string }) => {
        assert.equal(error.code, "OBJECT_DATABASE_CORRUPT");
        assert.match(error.message, new RegExp(`object Ns/${ID}`));
        assert.match(error.message, /log row 1 does not match its checksum/);
        return true;
      });
      await driver.prepareObject("Ns", "d".repeat(64));
      assert.deepEqual(
        driver
          .openObject("Ns", "d".repeat(64))
          .sqlite.prepare("SELECT v FROM t")
          .all()
          .map((row) => ({ ...row })),
        [{ v: 1 }],
        "other objects are unaffected",
      );
    } finally {
      await driver.close();
    }
  });

  it("names the URL without its password when PostgreSQL cannot be reached", async () => {
    using dir = tempDataDir("stead-postgres-driver-");
    const retries: number[] = [];
    await assert.rejects(
      PostgresDriver.connect({
        url: "postgres://stead:secret@127.0.0.1:9/db",
        dataDir: dir.path,
        connectTimeoutMs: 1_000,
        onRetry: (_, delay) => retries.push(delay),
      }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, "STORAGE_UNAVAILABLE");
        assert.match(error.message, /postgres:\/\/stead:\*\*\*@127\.0\.0\.1:9\/db/);
        assert.doesNotMatch(error.message, /secret/);
        return true;
      },
    );
    assert.deepEqual(retries.slice(0, 2), [250, 500], "retried with backoff");
  });
});

describe("PostgreSQL driver working copies", () => {
  it("keeps at most maxOpenDatabases connections open, reopening closed ones on use", async () => {
    await using schema = tempSchema();
    using dir = tempDataDir("stead-postgres-driver-");
    const driver = await PostgresDriver.connect({
      url: schema.url,
      dataDir: dir.path,
      maxOpenDatabases: 4,
    });
    try {
      const ids = Array.from({ length: 12 }, (_, n) => n.toString(16).padStart(64, "0"));
      for (const id of ids) {
        await driver.prepareObject("Ns", id);
        const handle = driver.openObject("Ns", id);
        handle.sqlite.exec(`CREATE TABLE t (v); INSERT INTO t VALUES ('${id.slice(-2)}')`);
        await handle.flush();
      }
      const open = readdirSync(join(dir.path, "Ns")).filter((file) => file.endsWith("-wal"));
      assert.ok(open.length <= 4, `${open.length} working copies open`);
      for (const id of ids) {
        const rows = driver.openObject("Ns", id).sqlite.prepare("SELECT v FROM t").all();
        assert.deepEqual(
          rows.map((row) => ({ ...row })),
          [{ v: id.slice(-2) }],
        );
      }
      assert.deepEqual((await driver.listObjects("Ns")).sort(), ids);
    } finally {
      await driver.close();
    }
  });
});

describe("PostgreSQL driver schema and connections", () => {
  it("creates its tables once when several processes start on a new schema at once", async () => {
    await using schema = tempSchema();
    const dirs = Array.from({ length: 4 }, () => tempDataDir("stead-postgres-driver-"));
    try {
      const drivers = await Promise.all(
        dirs.map((dir) => PostgresDriver.connect({ url: schema.url, dataDir: dir.path })),
      );
      await Promise.all(drivers.map((driver) => driver.close()));
      const [version] = await postgresQuery(`SELECT version FROM "${schema.name}".stead_schema`);
      assert.deepEqual({ ...(version as object) }, { version: SCHEMA_VERSION });
    } finally {
      for (const dir of dirs) dir[Symbol.dispose]();
    }
  });

  it("recovers by itself when PostgreSQL ends its connections (pg_terminate_backend)", async () => {
    await using schema = tempSchema();
    using dir = tempDataDir("stead-postgres-driver-");
    const app = `stead_test_${schema.name}`;
    const url = new URL(schema.url);
    url.searchParams.set("application_name", app);
    const driver = await PostgresDriver.connect({ url: url.href, dataDir: dir.path });
    try {
      await driver.prepareObject("Ns", ID);
      const handle = driver.openObject("Ns", ID);
      handle.sqlite.exec("CREATE TABLE t (n)");
      await handle.flush();
      let acknowledged = 0;
      let failed = 0;
      for (let n = 0; n < 40; n++) {
        if (n === 20) {
          const ended = await postgresQuery(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            [app],
          );
          assert.ok(ended.length > 0, "the driver's connections were ended");
        }
        try {
          const current = driver.openObject("Ns", ID);
          current.sqlite.exec(`INSERT INTO t VALUES (${n})`);
          await current.flush();
          acknowledged++;
        } catch (error) {
          failed++;
          assert.match((error as Error).message, /PostgreSQL at .* did not complete the request/);
          // What the runtime does after a failed flush: the object starts again, prepared.
          driver.openObject("Ns", ID).reopen();
          await driver.prepareObject("Ns", ID);
        }
      }
      assert.ok(acknowledged >= 38, `${acknowledged} of 40 writes went through`);
      const rows = driver.openObject("Ns", ID).sqlite.prepare("SELECT count(*) AS n FROM t").get();
      assert.ok(Number(rows!.n) >= acknowledged, "every acknowledged write is there");
      assert.ok(failed <= 2);
    } finally {
      await driver.close();
    }
  });
});

/**
 * The conformance suite every storage driver passes, written once. A driver's own test file
 * calls `storageDriverConformance(name, setup)` with a factory and nothing else.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { StorageDriver } from "../core/storage/driver.ts";

/** A fresh, empty driver, and a way to restart it on the same durable state. */
export interface DriverFixture extends AsyncDisposable {
  driver: StorageDriver;
  /** Closes the current driver and opens a new one over the same data. */
  restart(): Promise<StorageDriver>;
}

const ID_A = "a".repeat(64);

/** Rows as plain objects (node:sqlite returns null-prototype rows). */
function rows(handle: { sqlite: import("node:sqlite").DatabaseSync }, sql: string): unknown[] {
  return handle.sqlite
    .prepare(sql)
    .all()
    .map((row) => ({ ...row }));
}
const ID_B = "b".repeat(64);

/**
 * Opens an object's handle as the runtime does: prepared first, when the driver needs it, and
 * given the name its id was made from, if any.
 */
async function open(driver: StorageDriver, namespace: string, id: string, name?: string) {
  await driver.prepareObject?.(namespace, id, name);
  return driver.openObject(namespace, id, { name });
}

/** Opens an object, creates a table in it and makes that durable. */
async function store(driver: StorageDriver, namespace: string, id: string, name?: string) {
  const handle = await open(driver, namespace, id, name);
  handle.sqlite.exec("CREATE TABLE IF NOT EXISTS t (v)");
  await handle.flush();
  return handle;
}

function record(id: string, time: number, retryCount = 0) {
  return { namespace: "Ns", id, name: `name-${id[0]}`, time, scheduledTime: time, retryCount };
}

export function storageDriverConformance(name: string, setup: () => Promise<DriverFixture>): void {
  describe(`storage driver conformance: ${name}`, () => {
    it("opens one handle per object and keeps data across close and reopen", async () => {
      await using fixture = await setup();
      const handle = await open(fixture.driver, "Ns", ID_A);
      assert.equal(await open(fixture.driver, "Ns", ID_A), handle, "one handle per open object");
      handle.sqlite.exec("CREATE TABLE t (v); INSERT INTO t VALUES (1);");
      await handle.flush();
      handle.close();
      const again = await open(fixture.driver, "Ns", ID_A);
      assert.deepEqual(rows(again, "SELECT v FROM t"), [{ v: 1 }]);
    });

    it("accepts double-quoted string literals in DML and DDL, as workerd does", async () => {
      await using fixture = await setup();
      const handle = await open(fixture.driver, "Ns", ID_A);
      handle.sqlite.exec(`CREATE TABLE t (v TEXT DEFAULT "dflt" CHECK (v <> "bad"))`);
      handle.sqlite.exec(`INSERT INTO t DEFAULT VALUES; INSERT INTO t VALUES ("two")`);
      assert.deepEqual(rows(handle, `SELECT v, "lit" AS l FROM t ORDER BY v`), [
        { v: "dflt", l: "lit" },
        { v: "two", l: "lit" },
      ]);
      handle.reopen();
      assert.deepEqual(rows(handle, `SELECT count(*) AS n FROM t WHERE v = "two"`), [{ n: 1 }]);
    });

    it("rolls back an uncommitted transaction on reopen", async () => {
      await using fixture = await setup();
      const handle = await open(fixture.driver, "Ns", ID_A);
      handle.sqlite.exec("CREATE TABLE t (v)");
      handle.sqlite.exec("BEGIN; INSERT INTO t VALUES (1);");
      handle.reopen();
      assert.deepEqual(rows(handle, "SELECT count(*) AS n FROM t"), [{ n: 0 }]);
    });

    it("resolves flushes in call order", async () => {
      await using fixture = await setup();
      const handle = await open(fixture.driver, "Ns", ID_A);
      const order: number[] = [];
      const flushes = [1, 2, 3, 4].map((n) => {
        handle.sqlite.exec(`CREATE TABLE IF NOT EXISTS t (v); INSERT INTO t VALUES (${n})`);
        return handle.flush().then(() => order.push(n));
      });
      await Promise.all(flushes);
      assert.deepEqual(order, [1, 2, 3, 4]);
    });

    it("keeps committed data across a restart of the driver", async () => {
      await using fixture = await setup();
      const handle = await open(fixture.driver, "Ns", ID_B);
      handle.sqlite.exec("CREATE TABLE t (v); INSERT INTO t VALUES ('kept');");
      await handle.flush();
      const driver = await fixture.restart();
      assert.deepEqual(rows(await open(driver, "Ns", ID_B), "SELECT v FROM t"), [{ v: "kept" }]);
    });

    it("lists the objects of a namespace and deletes a namespace", async () => {
      await using fixture = await setup();
      const { driver } = fixture;
      assert.deepEqual(await driver.listObjects("Ns"), []);
      for (const id of [ID_A, ID_B]) {
        const handle = await open(driver, "Ns", id);
        handle.sqlite.exec("CREATE TABLE t (v)");
        await handle.flush();
        handle.close();
      }
      const other = await open(driver, "Other", ID_A);
      other.sqlite.exec("CREATE TABLE t (v)");
      await other.flush();
      assert.deepEqual((await driver.listObjects("Ns")).sort(), [ID_A, ID_B]);
      assert.equal(await driver.hasObject("Ns", ID_A), true);
      assert.equal(await driver.hasObject("Other", ID_B), false);
      driver.deleteNamespace("Ns");
      assert.deepEqual(await driver.listObjects("Ns"), []);
      assert.equal(await driver.hasObject("Ns", ID_A), false);
      assert.deepEqual(await driver.listObjects("Other"), [ID_A]);
    });

    it("records the names objects are opened with, heals missing ones, and deletes them with the namespace", async (t) => {
      await using fixture = await setup();
      if (fixture.driver.objectNames === undefined) {
        t.skip("the driver keeps no object names (no objectNames)");
        return;
      }
      const names = async (driver: StorageDriver, namespace: string, ids: string[]) =>
        Object.fromEntries(await driver.objectNames!(namespace, ids));
      const ID_C = "c".repeat(64);
      let driver = fixture.driver;
      await store(driver, "Ns", ID_A, "alpha");
      // Opened by id alone (`idFromString`): no name to record.
      (await store(driver, "Ns", ID_B)).close();
      await store(driver, "Other", ID_A, "in another namespace");
      assert.deepEqual(await names(driver, "Ns", [ID_A, ID_B, ID_C]), { [ID_A]: "alpha" });
      assert.deepEqual(await names(driver, "Ns", []), {});
      // Many ids (a prefix filter over a whole namespace) read the same names.
      const many = Array.from({ length: 1500 }, (_, n) => n.toString(16).padStart(64, "0"));
      assert.deepEqual(await names(driver, "Ns", [...many, ID_A, ID_B]), { [ID_A]: "alpha" });

      driver = await fixture.restart();
      assert.deepEqual(await names(driver, "Ns", [ID_A, ID_B]), { [ID_A]: "alpha" }, "kept");
      // An object whose name was never recorded (or was lost) gets it when next opened with it.
      await store(driver, "Ns", ID_B, "beta");
      assert.deepEqual(await names(driver, "Ns", [ID_A, ID_B]), {
        [ID_A]: "alpha",
        [ID_B]: "beta",
      });
      assert.deepEqual(await names(driver, "Other", [ID_A]), { [ID_A]: "in another namespace" });

      driver.deleteNamespace("Ns");
      assert.deepEqual(await names(driver, "Ns", [ID_A, ID_B]), {});
      await driver.control.commit({});
      driver = await fixture.restart();
      assert.deepEqual(await names(driver, "Ns", [ID_A, ID_B]), {}, "deleted for good");
      assert.deepEqual(await names(driver, "Other", [ID_A]), { [ID_A]: "in another namespace" });
      // A namespace made again under the same storage name starts without names.
      await store(driver, "Ns", ID_A);
      assert.deepEqual(await names(driver, "Ns", [ID_A]), {});
    });

    it("deleting a namespace removes its alarms, durably, and only its own", async () => {
      await using fixture = await setup();
      const { driver } = fixture;
      (await open(driver, "Ns", ID_A)).sqlite.exec("CREATE TABLE t (v)");
      driver.alarms.set(record(ID_A, 100));
      driver.alarms.set({ ...record(ID_B, 200), namespace: "Other" });
      driver.deleteNamespace("Ns");
      driver.deleteNamespace("Ns");
      assert.equal(driver.alarms.get("Ns", ID_A), undefined);
      await driver.control.commit({});
      const restarted = await fixture.restart();
      // A shared index reads what other processes wrote when refreshed (the scheduler's poll).
      await restarted.alarms.shared?.refresh(0);
      assert.deepEqual(
        restarted.alarms.earliest(10).map((r) => [r.namespace, r.id]),
        [["Other", ID_B]],
      );
      assert.deepEqual(await restarted.listObjects("Ns"), []);
    });

    it("copies an object's database and restores it into an object that has none", async (t) => {
      await using fixture = await setup();
      const { driver } = fixture;
      if (driver.restoreObject === undefined) {
        t.skip("the driver cannot restore backups (no restoreObject)");
        return;
      }
      const source = await open(driver, "Ns", ID_A);
      source.sqlite.exec("CREATE TABLE t (v); INSERT INTO t VALUES ('copied');");
      await source.flush();
      // The driver's own copy when it has one, else the connection's (as the admin API takes it).
      const database = (await driver.snapshotObject?.("Ns", ID_A)) ?? source.sqlite.serialize();
      assert.equal(await driver.snapshotObject?.("Ns", ID_B), undefined, "no database, no copy");
      await driver.restoreObject("Ns", ID_B, database, {
        alarm: record(ID_B, 500),
        name: "restored",
      });
      await assert.rejects(
        driver.restoreObject("Ns", ID_B, database, {}),
        /already has/,
        "an object that has a database is never overwritten",
      );
      const restarted = await fixture.restart();
      assert.deepEqual((await restarted.listObjects("Ns")).sort(), [ID_A, ID_B]);
      assert.deepEqual(rows(await open(restarted, "Ns", ID_B), "SELECT v FROM t"), [
        { v: "copied" },
      ]);
      await restarted.alarms.shared?.refresh(0);
      assert.equal(restarted.alarms.get("Ns", ID_B)?.time, 500);
      const names = await restarted.objectNames?.("Ns", [ID_B]);
      if (names !== undefined) assert.equal(names.get(ID_B), "restored", "the name is recorded");
    });

    it("records namespaces and applied migrations atomically, kept across restarts", async () => {
      await using fixture = await setup();
      const { control } = fixture.driver;
      assert.deepEqual(control.namespaces(), []);
      assert.deepEqual(control.appliedMigrations(), []);
      const ns = (
        className: string,
        storageName = className,
        backend: "sqlite" | "kv" = "sqlite",
      ) => ({
        className,
        storageName,
        uniqueKey: `stead:${storageName}`,
        backend,
      });
      await control.commit({ put: [ns("B", "B", "kv"), ns("A")], migrationTag: "v1" });
      assert.deepEqual(control.namespaces(), [ns("A"), ns("B", "B", "kv")], "by class name");
      // A rename: the new class takes over the old record's storage and key.
      await control.commit({ remove: ["A"], put: [ns("Z", "A")], migrationTag: "v2" });
      await control.commit({ migrationTag: "v0" });

      let driver = await fixture.restart();
      assert.deepEqual(driver.control.namespaces(), [ns("B", "B", "kv"), ns("Z", "A")]);
      assert.deepEqual(driver.control.appliedMigrations(), ["v1", "v2", "v0"], "applied order");

      // Failed commits change nothing.
      await assert.rejects(driver.control.commit({ put: [ns("C")], migrationTag: "v1" }));
      await assert.rejects(driver.control.commit({ put: [ns("C", "A")] }), "storage name in use");
      await assert.rejects(
        driver.control.commit({ put: [{ ...ns("D"), uniqueKey: "stead:B" }] }),
        "unique key in use",
      );
      driver = await fixture.restart();
      assert.deepEqual(driver.control.namespaces(), [ns("B", "B", "kv"), ns("Z", "A")]);
      assert.deepEqual(driver.control.appliedMigrations(), ["v1", "v2", "v0"]);
    });

    it("indexes alarms: set, replace, get, delete, earliest first with a limit", async () => {
      await using fixture = await setup();
      const { alarms } = fixture.driver;
      assert.deepEqual(alarms.earliest(10), []);
      alarms.set(record(ID_A, 300));
      alarms.set(record(ID_B, 100));
      alarms.set(record(ID_A, 200, 2));
      assert.deepEqual(alarms.get("Ns", ID_A), record(ID_A, 200, 2));
      assert.deepEqual(
        alarms.earliest(10).map((r) => [r.id, r.time]),
        [
          [ID_B, 100],
          [ID_A, 200],
        ],
      );
      assert.equal(alarms.earliest(1).length, 1);
      alarms.delete("Ns", ID_B);
      assert.equal(alarms.get("Ns", ID_B), undefined);
      assert.deepEqual(alarms.earliest(10), [record(ID_A, 200, 2)]);
    });

    it("moves alarms to a dead-letter list, newest first, durable across restarts", async () => {
      await using fixture = await setup();
      const { alarms } = fixture.driver;
      alarms.set(record(ID_A, 100));
      alarms.set(record(ID_B, 100));
      const letter = (id: string, failedAt: number) => ({
        namespace: "Ns",
        id,
        name: undefined,
        scheduledTime: 100,
        retryCount: 6,
        error: `Error: ${id[0]}`,
        failedAt,
      });
      alarms.deadLetter(letter(ID_A, 1));
      alarms.deadLetter(letter(ID_B, 2));
      assert.deepEqual(alarms.earliest(10), []);
      // Index writes become durable with the next object flush.
      await (await open(fixture.driver, "Ns", ID_A)).flush();
      const driver = await fixture.restart();
      assert.deepEqual(driver.alarms.deadLetters(), [letter(ID_B, 2), letter(ID_A, 1)]);

      // An operator discards one object's letters; the others stay, across a restart too.
      driver.alarms.deadLetter(letter(ID_A, 3));
      assert.equal(driver.alarms.discardDeadLetters("Ns", ID_A), 2);
      assert.equal(driver.alarms.discardDeadLetters("Ns", ID_A), 0);
      assert.deepEqual(driver.alarms.deadLetters(), [letter(ID_B, 2)]);
      await (await open(driver, "Ns", ID_B)).flush();
      const again = await fixture.restart();
      assert.deepEqual(again.alarms.deadLetters(), [letter(ID_B, 2)]);
    });
  });
}

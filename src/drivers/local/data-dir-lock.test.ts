import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { tempDataDir } from "../../../test/support/temp-dir.ts";
import { SteadError } from "../../core/errors.ts";
import { DataDirLock, LOCK_FILE, PID_FILE } from "./data-dir-lock.ts";
import { LocalDriver } from "./local-driver.ts";

const REGISTER = fileURLToPath(new URL("../../register.ts", import.meta.url));
const DRIVER = new URL("./local-driver.ts", import.meta.url).href;

/** Opens a LocalDriver on `dataDir` in another process; returns what it printed. */
function driverInOtherProcess(dataDir: string): { code: number | null; output: string } {
  const script = `
    const { LocalDriver } = await import(${JSON.stringify(DRIVER)});
    try {
      await new LocalDriver({ dataDir: ${JSON.stringify(dataDir)} }).close();
      console.log("opened");
    } catch (error) {
      console.log(error.code + " " + error.message);
      process.exitCode = 3;
    }`;
  const result = spawnSync(
    process.execPath,
    ["--import", REGISTER, "--input-type=module", "-e", script],
    { encoding: "utf8", timeout: 15_000 },
  );
  return { code: result.status, output: result.stdout + result.stderr };
}

function locked(dir: string, pid: number) {
  return (error: unknown) => {
    assert.ok(error instanceof SteadError, String(error));
    assert.equal(error.code, "DATA_DIR_LOCKED");
    assert.ok(error.message.includes(dir), error.message);
    assert.ok(error.message.includes(`pid ${pid}`), error.message);
    return true;
  };
}

describe("DataDirLock", () => {
  it("is refused to a second holder in this process until released, naming the directory and pid", () => {
    using dir = tempDataDir();
    const dataDir = join(dir.path, "data");
    const lock = DataDirLock.acquire(dataDir);
    assert.equal(statSync(dataDir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dataDir, LOCK_FILE)).mode & 0o777, 0o600);
    assert.equal(statSync(join(dataDir, PID_FILE)).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(dataDir, PID_FILE), "utf8").trim(), String(process.pid));
    assert.throws(() => DataDirLock.acquire(dataDir), locked(dataDir, process.pid));
    assert.throws(() => new LocalDriver({ dataDir }), locked(dataDir, process.pid));
    lock.release();
    assert.equal(existsSync(join(dataDir, PID_FILE)), false, "the pid file goes with the lock");
    DataDirLock.acquire(dataDir).release();
  });

  it("holds against other processes while the driver opens, syncs, checkpoints and closes its files", async () => {
    using dir = tempDataDir();
    // A checkpoint after every commit, and one open database: every path that opens and closes
    // a database file with fs runs (new file sync, checkpoint sync, close, control syncs).
    const driver = new LocalDriver({
      dataDir: dir.path,
      checkpointAfterCommits: 1,
      maxOpenDatabases: 1,
    });
    await driver.control.commit({ migrationTag: "v1" });
    for (const id of ["a", "b", "a"]) {
      const handle = driver.openObject("C", id.repeat(64));
      handle.sqlite.exec("CREATE TABLE IF NOT EXISTS t (x); INSERT INTO t VALUES (1)");
      await handle.flush();
      handle.sqlite.exec("INSERT INTO t VALUES (2)");
      await handle.flush();
      handle.close();
    }
    const other = driverInOtherProcess(dir.path);
    assert.equal(other.code, 3, other.output);
    assert.match(other.output, /^DATA_DIR_LOCKED /);
    assert.ok(other.output.includes(dir.path), other.output);
    assert.ok(other.output.includes(`pid ${process.pid}`), other.output);
    await driver.close();
    assert.equal(driverInOtherProcess(dir.path).output.trim(), "opened", "released on close");
  });

  it("is shared by passing it on: a driver given the lock neither retakes nor releases it", async () => {
    using dir = tempDataDir();
    const lock = DataDirLock.acquire(dir.path);
    await new LocalDriver({ dataDir: dir.path, lock }).close();
    assert.ok(lock.held);
    assert.throws(() => DataDirLock.acquire(dir.path), locked(dir.path, process.pid));
    // A driver on a worker thread cannot be given the object; "held" is checked against the pid.
    await new LocalDriver({ dataDir: dir.path, lock: "held" }).close();
    lock.release();
    assert.throws(
      () => new LocalDriver({ dataDir: dir.path, lock: "held" }),
      (error: unknown) =>
        error instanceof SteadError &&
        error.code === "DATA_DIR_LOCKED" &&
        error.message.includes("is not locked by this process"),
    );
    using other = tempDataDir();
    using otherLock = DataDirLock.acquire(other.path);
    assert.throws(
      () => new LocalDriver({ dataDir: dir.path, lock: otherLock }),
      /must be a held lock of its data directory/,
    );
  });
});

import assert from "node:assert/strict";
import { once } from "node:events";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { startStead } from "../support/stead-process.ts";
import { skipUnless } from "../support/storage.ts";
import {
  attachStrace,
  type Call,
  isResponse,
  missingStrace,
  parseCalls,
} from "../support/strace.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const COUNTER = fileURLToPath(new URL("../../templates/counter", import.meta.url));

/** Runs `requests` against a traced `stead start` on `dataDir`; returns the completed calls. */
async function traced(dataDir: string, requests: (url: string) => Promise<void>): Promise<Call[]> {
  await using stead = await startStead("start", [COUNTER, "--data-dir", dataDir]);
  using logDir = tempDataDir("stead-strace-");
  const log = join(logDir.path, "strace.log");
  const strace = await attachStrace(stead.child.pid!, log);
  await requests(stead.url);
  strace.kill("SIGINT");
  await once(strace, "exit");
  const calls = parseCalls(readFileSync(log, "utf8"));
  assert.deepEqual(await stead.stop(), { code: 0, signal: null });
  return calls;
}

async function increment(url: string, expected: number): Promise<void> {
  const response = await fetch(`${url}/syscalls`, { method: "POST" });
  assert.equal(((await response.json()) as { value: number }).value, expected);
}

describe("durability at the system-call level (strace)", {
  skip:
    skipUnless("localFiles", "traces the fdatasync calls that make the data directory durable") ||
    missingStrace(),
}, () => {
  it("syncs what a write needs before its response, and the database file before a WAL restart", async () => {
    using data = tempDataDir("stead-syscalls-");
    // The first increment creates the object; 70 in all pass the 64 commits after which its WAL
    // is checkpointed and restarts.
    const calls = await traced(data.path, async (url) => {
      for (let n = 1; n <= 70; n++) await increment(url, n);
    });

    const responses = calls.filter(isResponse);
    assert.equal(responses.length, 70, "one response per request");
    const db = (c: Call) => /\/[0-9a-f]{64}\.sqlite$/.test(c.target);
    const wal = (c: Call) => /\/[0-9a-f]{64}\.sqlite-wal$/.test(c.target);
    const synced = (until: number, match: (c: Call) => boolean, names = ["fdatasync", "fsync"]) =>
      calls.slice(0, until).some((c) => names.includes(c.name) && match(c));

    // The new object's first response: its directory entry, its database file and its WAL are
    // on disk first (SQLite deletes the WAL of an empty database file).
    const first = calls.indexOf(responses[0]!);
    assert.ok(
      synced(first, (c) => c.target.endsWith("/Counter")),
      "namespace directory synced",
    );
    assert.ok(synced(first, db), "new database file synced");
    assert.ok(synced(first, wal), "WAL synced");

    // Every response comes after a WAL sync that followed the last WAL write before it.
    let lastWalWrite = -1;
    let syncedSinceWrite = true;
    for (const [index, call] of calls.entries()) {
      if (call.name === "pwrite64" && wal(call)) {
        lastWalWrite = index;
        syncedSinceWrite = false;
      } else if (call.name === "fdatasync" && wal(call) && index > lastWalWrite) {
        syncedSinceWrite = true;
      } else if (responses.includes(call)) {
        assert.ok(syncedSinceWrite, `response at call ${index} after an unsynced WAL write`);
      }
    }

    // The checkpoint: pages written into the database file, then that file synced, and only
    // then the WAL rewritten from its start (SQLite's restart).
    const checkpoint = calls.findIndex((c, i) => i > first && c.name === "pwrite64" && db(c));
    assert.ok(checkpoint > 0, "a checkpoint wrote the database file");
    const restart = calls.findIndex(
      (c, i) => i > checkpoint && c.name === "pwrite64" && wal(c) && /, 32, 0\)?$/.test(c.args),
    );
    assert.ok(restart > checkpoint, "the WAL restarted after the checkpoint");
    assert.ok(
      calls.slice(checkpoint, restart).some((c) => c.name === "fdatasync" && db(c)),
      "the database file was synced between the checkpoint and the WAL restart",
    );

    // The object's name (stead objects list) is written while serving, never synced then.
    const names = (c: Call) => c.target.includes("/stead-names.sqlite");
    assert.ok(
      calls.some((c) => c.name === "pwrite64" && names(c)),
      "the name was written",
    );
    assert.deepEqual(
      calls.filter((c) => ["fsync", "fdatasync"].includes(c.name) && names(c)),
      [],
      "the names file is not synced while serving",
    );
  });

  it("syncs the directory of a WAL that SQLite had to create (another program deleted it)", async () => {
    using data = tempDataDir("stead-syscalls-");
    await traced(data.path, (url) => increment(url, 1));
    // A clean stop leaves the database file whole; an SQLite program that opens and closes it
    // (a backup, the sqlite3 shell) deletes the WAL.
    const dir = join(data.path, "Counter");
    const [file] = readdirSync(dir).filter((name) => name.endsWith(".sqlite"));
    rmSync(join(dir, `${file}-wal`));
    const calls = await traced(data.path, (url) => increment(url, 2));
    const response = calls.findIndex(isResponse);
    assert.ok(
      calls
        .slice(0, response)
        .some((c) => ["fsync", "fdatasync"].includes(c.name) && c.target.endsWith("/Counter")),
      "the directory holding the new WAL was synced before the response",
    );
  });
});

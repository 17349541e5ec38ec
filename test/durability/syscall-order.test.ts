import assert from "node:assert/strict";
import { readdirSync, rmSync } from "node:fs";
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
  stopStrace,
} from "../support/strace.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const COUNTER = fileURLToPath(new URL("../../templates/counter", import.meta.url));

/**
 * Runs `requests` (answered by `responses` responses) against a traced `stead start` on
 * `dataDir`; returns the completed calls.
 */
async function traced(
  dataDir: string,
  responses: number,
  requests: (url: string) => Promise<void>,
  options: { args?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<Call[]> {
  await using stead = await startStead(
    "start",
    [COUNTER, "--data-dir", dataDir, ...(options.args ?? [])],
    options.env === undefined ? {} : { env: options.env },
  );
  using logDir = tempDataDir("stead-strace-");
  const log = join(logDir.path, "strace.log");
  const strace = await attachStrace(stead.child.pid!, log);
  await requests(stead.url);
  const calls = await stopStrace(strace, log, responses);
  assert.deepEqual(await stead.stop(), { code: 0, signal: null });
  return calls;
}

/** A write system call: SQLite's (`pwrite64`), or a new file's contents (`write`). */
function isWrite(call: Call): boolean {
  return /^(p?write(v|64)?|pwritev2?)$/.test(call.name);
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
  it("journal: every response follows the journal sync after its record; a retired segment's objects were synced first", async () => {
    using data = tempDataDir("stead-syscalls-");
    // Segments of 4 KiB: a commit's record is a packed page (a hundred bytes or two), so a
    // segment is retired every twenty commits or so, each after syncing the object's files.
    const calls = await traced(
      data.path,
      70,
      async (url) => {
        for (let n = 1; n <= 70; n++) await increment(url, n);
      },
      { env: { STEAD_JOURNAL_SEGMENT_BYTES: "4096" } },
    );
    const responses = calls.filter(isResponse);
    assert.equal(responses.length, 70, "one response per request");
    const journal = (c: Call) => /\/journal\/[^/]+\.journal$/.test(c.target);
    const db = (c: Call) => /\/[0-9a-f]{64}\.sqlite$/.test(c.target);
    const wal = (c: Call) => /\/[0-9a-f]{64}\.sqlite-wal$/.test(c.target);
    const first = calls.indexOf(responses[0]!);
    assert.ok(
      calls.slice(0, first).some((c) => c.name === "fdatasync" && db(c)),
      "new database file synced before the first response",
    );

    // Every response comes after a journal sync that followed the last write of records before
    // it (requests come one at a time, so no later commit's records are written meanwhile).
    let syncedSinceWrite = true;
    let journalWrites = 0;
    for (const [index, call] of calls.entries()) {
      if (call.name === "pwritev" && journal(call)) {
        journalWrites++;
        syncedSinceWrite = false;
      } else if (call.name === "fdatasync" && journal(call)) {
        syncedSinceWrite = true;
      } else if (responses.includes(call)) {
        assert.ok(syncedSinceWrite, `response at call ${index} after an unsynced journal write`);
      }
    }
    assert.ok(journalWrites >= 70, `${journalWrites} journal writes for 70 commits`);
    // The WAL is never synced per commit: far fewer WAL syncs than commits.
    const walSyncs = calls.filter((c) => c.name === "fdatasync" && wal(c)).length;
    assert.ok(walSyncs < 35, `${walSyncs} WAL syncs for 70 commits`);

    // Retirement: a segment's header is zeroed (a 32-byte write at 0) only after the object's
    // WAL was synced since that segment's last record, and its database file since its last
    // write (a checkpoint's or the new file's); a database file with no write since its last sync
    // is left alone.
    const retirements = calls
      .map((c, i) => ({ c, i }))
      .filter(
        ({ c }) =>
          c.name === "pwrite64" &&
          journal(c) &&
          /, 32, 0\)?$/.test(c.args) &&
          !c.args.includes("SteadJnl"),
      );
    assert.ok(retirements.length >= 2, `${retirements.length} segments retired`);
    for (const { c, i } of retirements) {
      const lastRecord = calls.findLastIndex(
        (d, j) => j < i && d.target === c.target && d.name === "pwritev",
      );
      const between = calls.slice(lastRecord, i);
      assert.ok(
        between.some((d) => d.name === "fdatasync" && wal(d)),
        "the WAL was synced before its segment was retired",
      );
      const lastDbWrite = calls.findLastIndex((d, j) => j < i && isWrite(d) && db(d));
      assert.ok(
        lastDbWrite < 0 || calls.slice(lastDbWrite, i).some((d) => d.name === "fdatasync" && db(d)),
        "the database file was synced after its last write, before its segment was retired",
      );
    }
    const dbWrites = calls.filter((c) => c.name === "pwrite64" && db(c)).length;
    assert.ok(dbWrites > 0, "a checkpoint wrote the database file");
    const dbSyncs = calls.filter((c) => c.name === "fdatasync" && db(c)).length;
    assert.ok(
      dbSyncs < retirements.length,
      `${dbSyncs} database file syncs for ${retirements.length} retired segments: clean files are not synced again`,
    );
  });

  it("wal: syncs what a write needs before its response, and the database file before a WAL restart", async () => {
    using data = tempDataDir("stead-syscalls-");
    // The first increment creates the object; 70 in all pass the 64 commits after which its WAL
    // is checkpointed and restarts.
    const calls = await traced(
      data.path,
      70,
      async (url) => {
        for (let n = 1; n <= 70; n++) await increment(url, n);
      },
      { args: ["--durability", "wal"] },
    );

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
    await traced(data.path, 1, (url) => increment(url, 1));
    // A clean stop leaves the database file whole; an SQLite program that opens and closes it
    // (a backup, the sqlite3 shell) deletes the WAL.
    const dir = join(data.path, "Counter");
    const [file] = readdirSync(dir).filter((name) => name.endsWith(".sqlite"));
    rmSync(join(dir, `${file}-wal`));
    const calls = await traced(data.path, 1, (url) => increment(url, 2));
    const response = calls.findIndex(isResponse);
    assert.ok(
      calls
        .slice(0, response)
        .some((c) => ["fsync", "fdatasync"].includes(c.name) && c.target.endsWith("/Counter")),
      "the directory holding the new WAL was synced before the response",
    );
  });
});

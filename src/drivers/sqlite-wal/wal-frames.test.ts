import assert from "node:assert/strict";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { tempDataDir } from "../../../test/support/temp-dir.ts";
import { readAt } from "../local/read-at.ts";
import { WalCommitScanner, type WalPosition, WalReader, walChecksum } from "./wal-frames.ts";

describe("WAL frames", () => {
  it("finds every commit, of one frame or hundreds, as the reader returns them", () => {
    using dir = tempDataDir("stead-wal-frames-");
    const path = join(dir.path, "db.sqlite");
    const db = new DatabaseSync(path);
    try {
      db.exec(
        "PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (v BLOB)",
      );
      const readWal = (length: number, position: number) => {
        const fd = openSync(`${path}-wal`, "r");
        try {
          return readAt(fd, length, position);
        } finally {
          closeSync(fd);
        }
      };
      const scanner = new WalCommitScanner();
      const reader = new WalReader();
      const noted: WalPosition[] = [...scanner.scan(readWal)];
      // Commits of 1, 2, 17, 40 and 300 pages, some several between two scans, across a restart.
      const sizes = [1, 2, 17, 1, 40, 300, 1, 1, 3];
      for (const [index, pages] of sizes.entries()) {
        db.exec("BEGIN");
        db.prepare("INSERT INTO t VALUES (zeroblob(?))").run(pages * 4000);
        db.exec("COMMIT");
        if (index % 2 === 0) noted.push(...scanner.scan(readWal));
        if (index === 5) {
          noted.push(...scanner.scan(readWal));
          assert.deepEqual(
            reader.readCommitted(readWal).map((t) => t.position),
            noted,
          );
          noted.length = 0;
          db.exec("PRAGMA wal_checkpoint(PASSIVE)");
        }
      }
      noted.push(...scanner.scan(readWal));
      const transactions = reader.readCommitted(readWal);
      assert.deepEqual(
        transactions.map((t) => t.position),
        noted,
      );
      assert.equal(transactions.length, 3, "the commits after the WAL restarted");
    } finally {
      db.close();
    }
  });
});

describe("walChecksum", () => {
  /** SQLite's definition, word by word in the given byte order. */
  function reference(data: Buffer, bigEndian: boolean, seed: [number, number]): [number, number] {
    let [s0, s1] = seed;
    for (let i = 0; i < data.length; i += 8) {
      const a = bigEndian ? data.readUInt32BE(i) : data.readUInt32LE(i);
      const b = bigEndian ? data.readUInt32BE(i + 4) : data.readUInt32LE(i + 4);
      s0 = (s0 + a + s1) >>> 0;
      s1 = (s1 + b + s0) >>> 0;
    }
    return [s0, s1];
  }

  it("sums a page in either byte order, aligned or not, as SQLite defines it", () => {
    const bytes = Buffer.alloc(4096 + 8);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
    for (const offset of [0, 4, 2, 1]) {
      const page = bytes.subarray(offset, offset + 4096);
      for (const bigEndian of [false, true]) {
        const seed: [number, number] = [0xfffffff0, 12345];
        assert.deepEqual(walChecksum(page, bigEndian, seed), reference(page, bigEndian, seed));
      }
    }
  });
});

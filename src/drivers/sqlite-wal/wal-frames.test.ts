import assert from "node:assert/strict";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { tempDataDir } from "../../../test/support/temp-dir.ts";
import { readAt } from "../local/read-at.ts";
import { WalCommitScanner, type WalPosition, WalReader } from "./wal-frames.ts";

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

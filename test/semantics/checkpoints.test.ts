import assert from "node:assert/strict";
import { copyFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { deserialize } from "node:v8";
import { createRuntime } from "../../src/index.ts";
import { skipUnless } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const COUNTER_WORKER = new URL("../fixtures/counter-worker.ts", import.meta.url);

/** The count the object's database file holds on its own, without its WAL. */
function countInDatabaseFile(file: string): number {
  using copy = tempDataDir("stead-checkpoint-copy-");
  const path = join(copy.path, "copy.sqlite");
  copyFileSync(file, path);
  const db = new DatabaseSync(path);
  try {
    const row = db.prepare("SELECT value FROM _cf_KV WHERE key = 'count'").get();
    return row === undefined ? 0 : (deserialize(row.value as Uint8Array) as number);
  } finally {
    db.close();
  }
}

describe("WAL checkpoints", () => {
  it("keep the WAL of an object in steady use short, its data reaching the database file", {
    skip: skipUnless("localFiles", "reads the size of the -wal file and the database file alone"),
  }, async () => {
    using dir = tempDataDir("stead-checkpoints-");
    await using rt = await createRuntime({
      main: COUNTER_WORKER,
      durableObjects: { COUNTER: "Counter" },
      dataDir: dir.path,
    });
    const stub = rt.env.COUNTER.getByName("steady");
    for (let n = 1; n <= 300; n++) assert.equal(await stub.increment(), n);

    const file = join(dir.path, "Counter", `${stub.id.toString()}.sqlite`);
    assert.ok(readdirSync(join(dir.path, "Counter")).includes(`${stub.id.toString()}.sqlite`));
    // One 4 KiB frame per commit: without checkpoints the WAL would hold 300 of them (1.2 MB).
    const wal = statSync(`${file}-wal`).size;
    assert.ok(wal < 600 * 1024, `WAL of ${wal} bytes`);
    // Checkpoints come after 64 commits, once the WAL is quiet (each call here awaits its own).
    const inFile = countInDatabaseFile(file);
    assert.ok(inFile >= 300 - 64, `the database file alone holds count ${inFile}`);
  });
});

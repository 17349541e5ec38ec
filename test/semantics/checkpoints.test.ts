import assert from "node:assert/strict";
import { copyFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { deserialize } from "node:v8";
import { runtimeAdmin } from "../../src/embedded/runtime-admin.ts";
import { createRuntime, LocalDriver, type Runtime, type RuntimeOptions } from "../../src/index.ts";
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

/** How many commits the objects of `className` made, from the runtime's metrics. */
async function commitsOf(rt: Runtime, className: string): Promise<number> {
  const families = (await runtimeAdmin(rt).metrics!()).flat();
  const family = families.find((f) => f.name === "stead_storage_commit_duration_seconds");
  const count = family?.values.find(
    (s) =>
      s.metricName === "stead_storage_commit_duration_seconds_count" &&
      s.labels.class === className,
  );
  assert.ok(count !== undefined, "a commit histogram for the class");
  return count.value;
}

const LOCAL_FILES = {
  skip: skipUnless("localFiles", "reads the size of the -wal file and the database file alone"),
};

function counterRuntime(options: Partial<RuntimeOptions>): Promise<Runtime> {
  return createRuntime({
    main: COUNTER_WORKER,
    durableObjects: { COUNTER: "Counter" },
    ...options,
  });
}

describe("WAL checkpoints", () => {
  it(
    "keep the WAL of an object in steady use short, its data reaching the database file",
    LOCAL_FILES,
    async () => {
      using dir = tempDataDir("stead-checkpoints-");
      await using rt = await counterRuntime({ dataDir: dir.path });
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
    },
  );

  it(
    "coalesce a busy object's writes into one commit per flush, and still checkpoint its WAL",
    LOCAL_FILES,
    async () => {
      using dir = tempDataDir("stead-checkpoints-");
      // A checkpoint due every 4 commits: with writes coming during every flush, no moment is ever
      // quiet while the callers run, so the WAL stays short only if checkpoints come anyway.
      await using rt = await counterRuntime({
        driver: new LocalDriver({ dataDir: dir.path, checkpointAfterCommits: 4 }),
      });
      const stub = rt.env.COUNTER.getByName("busy");
      const callers = 32;
      const each = 30;
      const seen = (
        await Promise.all(
          Array.from({ length: callers }, async () => {
            const values: number[] = [];
            for (let n = 0; n < each; n++) values.push(await stub.increment());
            return values;
          }),
        )
      ).flat();
      const total = callers * each;
      // Every increment saw its own count: coalescing never merged two of them into one value.
      assert.deepEqual(
        seen.sort((a, b) => a - b),
        Array.from({ length: total }, (_, n) => n + 1),
      );
      const commits = await commitsOf(rt, "Counter");
      assert.ok(commits < total / 4, `${commits} commits for ${total} increments`);
      // Without checkpoints the WAL would hold a 4 KiB frame per commit.
      assert.ok(commits >= 30, `${commits} commits: too few to tell a short WAL from a long one`);
      const file = join(dir.path, "Counter", `${stub.id.toString()}.sqlite`);
      const wal = statSync(`${file}-wal`).size;
      assert.ok(wal < 25 * 4120, `WAL of ${wal} bytes after ${commits} commits`);
      assert.equal(await stub.count(), total);
    },
  );
});

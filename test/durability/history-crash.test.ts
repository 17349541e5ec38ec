// History stays consistent with the data across SIGKILLs. A real child process (crash-child.ts)
// writes to several objects, with checkpoints, WAL restarts and closes, and is killed at a random
// point; after each kill every object's history, replayed from its base through every record,
// must reproduce the database exactly (restoring to the newest position changes nothing), and
// history keeps growing across kills.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { LocalDriver } from "../../src/drivers/local/local-driver.ts";
import { runAndKill, CRASH_SEED as SEED } from "../support/crash-workload.ts";
import { mulberry32 } from "../support/seeded-random.ts";
import { skipUnless, testStore } from "../support/storage.ts";

const ITERATIONS = 8;

function dump(db: DatabaseSync): string {
  const tables = db
    .prepare("SELECT name, sql FROM sqlite_master ORDER BY name")
    .all()
    .map((row) => String(row.name));
  return JSON.stringify(
    tables.map((name) => {
      try {
        return [name, JSON.stringify(db.prepare(`SELECT * FROM "${name}" ORDER BY 1`).all())];
      } catch {
        return [name, "index"];
      }
    }),
  );
}

describe("history across crashes", () => {
  it("replaying history reproduces every object's database after each SIGKILL", {
    timeout: 300_000,
    skip:
      skipUnless("history", "replays every object's history after each kill") ||
      skipUnless("localFiles", "opens the data directory with the local driver itself"),
  }, async () => {
    using store = testStore();
    const random = mulberry32(SEED);
    const newest = new Map<string, number>();
    for (let run = 0; run < ITERATIONS; run++) {
      const { signal, stderr } = await runAndKill(
        store,
        run,
        SEED + run,
        1 + Math.floor(random() * 150),
      );
      assert.equal(signal, "SIGKILL", `run ${run} (seed ${SEED}) ended on its own: ${stderr}`);
      const driver = new LocalDriver({ dataDir: store.dataDir });
      try {
        const namespaces = readdirSync(store.dataDir, { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => entry.name);
        for (const namespace of namespaces) {
          for (const id of await driver.listObjects(namespace)) {
            const handle = driver.openObject(namespace, id);
            const history = handle.history!;
            const before = dump(handle.sqlite);
            const position = await history.currentPosition();
            const key = join(namespace, id);
            assert.ok(
              position >= (newest.get(key) ?? 0),
              `run ${run} (seed ${SEED}): history of ${key} went back`,
            );
            newest.set(key, position);
            await history.restoreOnNextStart(position);
            history.applyPendingRestore();
            assert.equal(dump(handle.sqlite), before, `run ${run} (seed ${SEED}): ${key}`);
            const check = handle.sqlite.prepare("PRAGMA integrity_check").get();
            assert.equal(check?.integrity_check, "ok");
            handle.close();
          }
        }
      } finally {
        await driver.close();
      }
    }
  });
});

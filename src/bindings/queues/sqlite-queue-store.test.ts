import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { tempDataDir } from "../../../test/support/temp-dir.ts";
import { queueStoreCases } from "./queue-store.case.ts";
import { SqliteQueueStore } from "./sqlite-queue-store.ts";

// The store on a real SQLite file (durability is embedded/queue-file.ts's, tested by the crash test).
queueStoreCases("SQLite", async () => {
  const dir = tempDataDir("stead-queue-store-");
  const db = new DatabaseSync(join(dir.path, "queues.sqlite"));
  db.exec("PRAGMA journal_mode = WAL");
  const store = new SqliteQueueStore(
    db,
    async () => {},
    async () => db.close(),
    { clearLeases: true },
  );
  return {
    store,
    async [Symbol.asyncDispose]() {
      await store.close();
      dir[Symbol.dispose]();
    },
  };
});

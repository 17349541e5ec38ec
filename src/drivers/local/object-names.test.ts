import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { tempDataDir } from "../../../test/support/temp-dir.ts";
import { waitFor } from "../../../test/support/wait-for.ts";
import { LocalObjectNames } from "./object-names.ts";

const ID = "a".repeat(64);

describe("local object names", () => {
  it("writes nothing while another connection holds the file, and the names once it lets go", async () => {
    using dir = tempDataDir("stead-object-names-");
    const path = join(dir.path, "stead-names.sqlite");
    const names = LocalObjectNames.open(path, { shared: true, repair: true, dataDir: dir.path });
    // Another object thread's connection, in the middle of its own write.
    const other = new DatabaseSync(path, { timeout: 0 });
    try {
      other.exec("BEGIN IMMEDIATE");
      names.record("Ns", ID, "waits its turn");
      // Reads go on meanwhile (WAL), and find the name not written yet.
      assert.deepEqual(await names.names("Ns", [ID]), new Map());
      other.exec("COMMIT");
      const written = () => other.prepare("SELECT name FROM object_names").all().length === 1;
      await waitFor(written, "the name written once the file is free");
      assert.deepEqual(await names.names("Ns", [ID]), new Map([[ID, "waits its turn"]]));
    } finally {
      other.close();
      names.close();
    }
  });
});

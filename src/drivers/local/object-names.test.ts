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
    const names = LocalObjectNames.open(path, { shared: true, primary: true, dataDir: dir.path });
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

  it("keeps the names after a crash of the process, and starts empty after one of the machine", async () => {
    using dir = tempDataDir("stead-object-names-");
    const path = join(dir.path, "stead-names.sqlite");
    const open = (bootId: string | undefined) =>
      LocalObjectNames.open(path, { shared: false, primary: true, dataDir: dir.path, bootId });
    /** What a process that died while serving leaves: the file marked in use. */
    const leftInUse = () => {
      const db = new DatabaseSync(path);
      db.exec("UPDATE names_state SET value = '0' WHERE key = 'clean'");
      db.close();
    };
    const read = async (names: LocalObjectNames) => {
      try {
        return await names.names("Ns", [ID]);
      } finally {
        names.close();
      }
    };
    const write = (bootId: string | undefined, name: string) => {
      const names = open(bootId);
      names.record("Ns", ID, name);
      names.close();
    };
    write("boot-1", "kept");
    assert.deepEqual(await read(open("boot-2")), new Map([[ID, "kept"]]), "closed cleanly");
    leftInUse();
    assert.deepEqual(await read(open("boot-2")), new Map([[ID, "kept"]]), "same boot: kept");
    leftInUse();
    // In use during boot-2 when the machine went down: possibly torn.
    assert.deepEqual(await read(open("boot-3")), new Map(), "another boot: replaced");
    write("boot-3", "back");
    leftInUse();
    assert.deepEqual(await read(open(undefined)), new Map(), "no boot id: replaced");
  });
});

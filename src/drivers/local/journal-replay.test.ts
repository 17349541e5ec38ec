import assert from "node:assert/strict";
import { cpSync, readdirSync, readFileSync, rmSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import fc from "fast-check";
import { tempDataDir } from "../../../test/support/temp-dir.ts";
import { decodeSegmentHeader, readRecords, SEGMENT_HEADER_BYTES } from "./journal-format.ts";
import { LocalDriver } from "./local-driver.ts";

const OBJECTS = ["a", "b", "c"].map((letter) => letter.repeat(64));

/** What an object's database holds: its rows, or none when its table was never replayed. */
type State = number[] | "no table";

/** The object's rows, read straight from its file as SQLite recovers it (WAL replayed). */
function stateOf(dataDir: string, id: string): State {
  const db = new DatabaseSync(join(dataDir, "Ns", `${id}.sqlite`));
  try {
    const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 't'").get();
    if (exists === undefined) return "no table";
    return db
      .prepare("SELECT v FROM t ORDER BY rowid")
      .all()
      .map((row) => Number(row.v));
  } finally {
    db.close();
  }
}

/**
 * Runs `commits` (object index, value), each acknowledged before the next, on a driver that is
 * never closed, and copies its data directory as a crash leaves it. Returns the copy and, per
 * object, its state after each of its acknowledged commits (index 0: before the first).
 */
async function crashImage(commits: Array<[number, number]>): Promise<{
  image: ReturnType<typeof tempDataDir>;
  states: State[][];
  close: () => Promise<void>;
}> {
  const dir = tempDataDir("stead-journal-prop-");
  // No checkpoint in the run: each object's file holds what its creation synced, the rest is
  // in its WAL and the journal.
  const driver = new LocalDriver({ dataDir: dir.path, checkpointAfterCommits: 1_000_000 });
  const states: State[][] = OBJECTS.map(() => ["no table"]);
  const rows: number[][] = OBJECTS.map(() => []);
  const handles = OBJECTS.map((id) => driver.openObject("Ns", id));
  for (const [index, handle] of handles.entries()) {
    handle.sqlite.exec("CREATE TABLE t (v INTEGER)");
    await handle.flush();
    states[index]!.push([]);
  }
  for (const [index, value] of commits) {
    handles[index]!.sqlite.prepare("INSERT INTO t VALUES (?)").run(value);
    await handles[index]!.flush();
    rows[index]!.push(value);
    states[index]!.push([...rows[index]!]);
  }
  const image = tempDataDir("stead-journal-image-");
  cpSync(dir.path, image.path, { recursive: true });
  // The copy is a crash image: the lock file names this (live) process.
  rmSync(join(image.path, "stead.pid"), { force: true });
  return {
    image,
    states,
    close: async () => {
      await driver.close();
      dir[Symbol.dispose]();
    },
  };
}

function journalFile(dataDir: string): string {
  const dir = join(dataDir, "journal");
  const [file, ...others] = readdirSync(dir).filter((name) => name.endsWith(".journal"));
  assert.ok(file !== undefined && others.length === 0, "one journal segment");
  return join(dir, file);
}

/** How many records of each object lie whole within the first `length` bytes of the segment. */
function recordsWithin(path: string, length: number): number[] {
  const bytes = readFileSync(path).subarray(0, length);
  const header = decodeSegmentHeader(bytes.subarray(0, SEGMENT_HEADER_BYTES));
  const counts = OBJECTS.map(() => 0);
  if (header === undefined) return counts;
  for (const record of readRecords(bytes, header.salt)) {
    counts[OBJECTS.findIndex((id) => record.key === `Ns/${id}.sqlite`)]!++;
  }
  return counts;
}

async function replayed(image: string): Promise<void> {
  const driver = new LocalDriver({ dataDir: image });
  await driver.close();
}

describe("node journal replay", () => {
  it("replaying any prefix of the journal gives each object a state it had after an acknowledged commit", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer()), { maxLength: 30 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.boolean(),
        async (commits, cut, walsLost) => {
          const { image, states, close } = await crashImage(commits);
          try {
            const journal = journalFile(image.path);
            const size = readFileSync(journal).length;
            const length = Math.floor(cut * size);
            const within = recordsWithin(journal, length);
            truncateSync(journal, length);
            // A power loss keeps no unsynced write: the WALs (never synced without the
            // journal) are gone. A SIGKILL keeps them whole.
            if (walsLost) {
              for (const id of OBJECTS) rmSync(join(image.path, "Ns", `${id}.sqlite-wal`));
            }
            await replayed(image.path);
            for (const [index, id] of OBJECTS.entries()) {
              const history = states[index]!;
              const expected = walsLost ? history[within[index]!] : history.at(-1);
              assert.deepEqual(stateOf(image.path, id), expected, `object ${index}`);
            }
            assert.deepEqual(
              readdirSync(join(image.path, "journal")).filter((f) => f.endsWith(".journal")),
              [],
              "the replayed journal is removed",
            );
          } finally {
            await close();
            image[Symbol.dispose]();
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it("writes nothing back for an object whose namespace was deleted since", async () => {
    const { image, close } = await crashImage([[0, 1]]);
    try {
      rmSync(join(image.path, "Ns"), { recursive: true });
      const driver = new LocalDriver({ dataDir: image.path });
      assert.equal(driver.journalReplay?.objects, 0);
      await driver.close();
      assert.deepEqual(
        readdirSync(image.path).filter((name) => name === "Ns"),
        [],
      );
    } finally {
      await close();
      image[Symbol.dispose]();
    }
  });
});

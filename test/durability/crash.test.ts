import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createRuntime } from "../../src/index.ts";
import type { Row } from "../fixtures/durability-worker.ts";
import { type ChildRun, runAndKill, CRASH_SEED as SEED } from "../support/crash-workload.ts";
import { mulberry32 } from "../support/seeded-random.ts";
import { type StoreOptions, skipUnless, TEST_STORAGE, testStore } from "../support/storage.ts";

const FIXTURE = new URL("../fixtures/durability-worker.ts", import.meta.url);
/** The objects crash-child.ts writes to. */
const OBJECTS = ["crash-0", "crash-1", "crash-2", "crash-3"];
const ITERATIONS = 24;
/** Kill after this many acknowledged writes at most (0 = as soon as the child is up). */
const MAX_ACKS_BEFORE_KILL = 120;

interface Acked {
  kv: Map<string, Set<string>>;
  sql: Map<string, Set<string>>;
  batches: Map<string, Map<string, number>>;
  count: number;
}

function record(acked: Acked, line: string): void {
  if (line === "ready") return;
  const [kind, object, key, parts] = line.split(" ");
  assert.ok(object !== undefined && key !== undefined, `malformed ack line: ${line}`);
  acked.count++;
  if (kind === "kv") setOf(acked.kv, object).add(key);
  else if (kind === "sql") setOf(acked.sql, object).add(key);
  else if (kind === "batch") {
    let batches = acked.batches.get(object);
    if (!batches) acked.batches.set(object, (batches = new Map()));
    batches.set(key, Number(parts));
  } else assert.fail(`unknown ack line: ${line}`);
}

function setOf(map: Map<string, Set<string>>, object: string): Set<string> {
  let set = map.get(object);
  if (!set) map.set(object, (set = new Set()));
  return set;
}

/** Opens the store in this process and checks every acknowledged write. */
async function checkAcknowledged(store: StoreOptions, acked: Acked): Promise<void> {
  await using rt = await createRuntime({
    main: FIXTURE,
    durableObjects: { STORE: "Store" },
    ...store,
  });
  for (const object of OBJECTS) {
    const { kv, rows } = (await rt.env.STORE.getByName(object).dump()) as {
      kv: Record<string, any>;
      rows: Row[];
    };
    for (const key of acked.kv.get(object) ?? []) {
      assert.ok(key in kv, `${object}: acknowledged KV put ${key} is missing`);
    }
    const rowIds = new Set(rows.map((row) => row.id));
    for (const id of acked.sql.get(object) ?? []) {
      assert.ok(rowIds.has(id), `${object}: acknowledged SQL insert ${id} is missing`);
    }

    // Every batch on disk, acknowledged or not, is whole: all its KV entries and all its rows.
    const kvParts = new Map<string, { parts: number; seen: number }>();
    for (const [key, value] of Object.entries(kv)) {
      if (!key.startsWith("b:")) continue;
      const entry = kvParts.get(value.batch) ?? { parts: value.parts, seen: 0 };
      entry.seen++;
      kvParts.set(value.batch, entry);
    }
    const rowParts = new Map<string, number>();
    for (const row of rows) {
      if (row.batch !== null) rowParts.set(row.batch, (rowParts.get(row.batch) ?? 0) + 1);
    }
    for (const [batch, { parts, seen }] of kvParts) {
      assert.equal(seen, parts, `${object}: batch ${batch} has ${seen} of ${parts} KV entries`);
      assert.equal(
        rowParts.get(batch),
        parts,
        `${object}: batch ${batch} has ${rowParts.get(batch) ?? 0} of ${parts} rows`,
      );
    }
    for (const batch of rowParts.keys()) {
      assert.ok(kvParts.has(batch), `${object}: batch ${batch} has rows but no KV entries`);
    }
    assert.equal(
      kv.batches ?? 0,
      kvParts.size,
      `${object}: the batch counter disagrees with the batches stored`,
    );
    for (const [batch, parts] of acked.batches.get(object) ?? []) {
      assert.equal(
        kvParts.get(batch)?.parts,
        parts,
        `${object}: acknowledged batch ${batch} is missing`,
      );
    }
  }
}

/** Runs PRAGMA integrity_check on every SQLite database under `dataDir`. */
async function checkIntegrity(dataDir: string): Promise<number> {
  const files = (await readdir(dataDir, { recursive: true })).filter((f) => f.endsWith(".sqlite"));
  for (const file of files) {
    const db = new DatabaseSync(join(dataDir, file));
    try {
      const result = db
        .prepare("PRAGMA integrity_check")
        .all()
        .map((row) => row.integrity_check);
      assert.deepEqual(result, ["ok"], `integrity_check of ${file}`);
    } finally {
      db.close();
    }
  }
  return files.length;
}

describe("crash consistency", () => {
  it("keeps every acknowledged write and every batch whole across SIGKILLs", {
    // About 30 s alone; its child processes start slowly while the suite runs files beside it.
    timeout: 120_000,
  }, async (t) => {
    t.diagnostic(`seed ${SEED} (replay with STEAD_CRASH_SEED=${SEED})`);
    const random = mulberry32(SEED);
    using store = testStore("stead-crash-");
    const acked: Acked = { kv: new Map(), sql: new Map(), batches: new Map(), count: 0 };
    let killedMidWork = 0;
    for (let run = 0; run < ITERATIONS; run++) {
      const killAfter = Math.floor(random() * (MAX_ACKS_BEFORE_KILL + 1));
      const childSeed = Math.floor(random() * 2 ** 31);
      try {
        const result = await runAndKill(store, run, childSeed, killAfter);
        assert.equal(
          result.signal,
          "SIGKILL",
          `the child exited on its own (code ${result.code}):\n${result.stderr}`,
        );
        assert.ok(result.lines.length > 0, `the child never started:\n${result.stderr}`);
        const before = acked.count;
        for (const line of result.lines) record(acked, line);
        if (acked.count > before) killedMidWork++;
        await checkAcknowledged(store.options, acked);
        // The local driver's databases are the durable state: each must be intact on its own.
        if (TEST_STORAGE.capabilities.localFiles) {
          const files = await checkIntegrity(store.dataDir);
          assert.ok(files >= 2, "no object databases were written");
        } else if (run % 2 === 1) {
          // The durable state is elsewhere: in half of the rounds the working copies go too,
          // and the next round (and check) rebuilds every object from the store alone.
          rmSync(store.dataDir, { recursive: true, force: true });
        }
      } catch (error) {
        throw new Error(
          `crash run ${run} failed (seed ${SEED}, kill after ${killAfter} acks; replay with STEAD_CRASH_SEED=${SEED}): ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
    t.diagnostic(`${acked.count} acknowledged writes checked over ${ITERATIONS} kills`);
    assert.ok(
      killedMidWork >= ITERATIONS / 2,
      "most kills did not land while writes were in flight",
    );
  });
});

const REPLAY_CHILD = fileURLToPath(new URL("../fixtures/replay-child.ts", import.meta.url));

/** Runs replay-child.ts on `dataDir`, killing itself after the replay wrote `killAt` records. */
function replayAndKill(dataDir: string, killAt: number): Promise<ChildRun> {
  const child = spawn(process.execPath, [REPLAY_CHILD, dataDir, String(killAt)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) =>
      resolve({ lines: stdout.split("\n"), code, signal, stderr }),
    );
  });
}

describe("crash consistency of the node journal's replay", {
  skip: skipUnless("localFiles", "the node journal belongs to the local driver"),
}, () => {
  it("loses nothing when killed inside the replay: the next start replays again", {
    timeout: 120_000,
  }, async (t) => {
    t.diagnostic(`seed ${SEED} (replay with STEAD_CRASH_SEED=${SEED})`);
    const random = mulberry32(SEED + 1);
    using store = testStore("stead-replay-crash-");
    const acked: Acked = { kv: new Map(), sql: new Map(), batches: new Map(), count: 0 };
    let killedInReplay = 0;
    // Runs whose journal keeps every record (no small segments, not the "wal" mode): see
    // crash-child.ts.
    for (const run of [1, 3, 7, 11]) {
      const result = await runAndKill(
        store,
        run,
        Math.floor(random() * 2 ** 31),
        40 + Math.floor(random() * 80),
      );
      assert.equal(result.signal, "SIGKILL", `the child exited on its own:\n${result.stderr}`);
      for (const line of result.lines) record(acked, line);
      // Kill the next start inside its replay, twice, at a record chosen at random.
      for (let attempt = 0; attempt < 2; attempt++) {
        const replay = await replayAndKill(store.dataDir, 1 + Math.floor(random() * 40));
        if (replay.signal === "SIGKILL") killedInReplay++;
        else assert.equal(replay.code, 0, `the replay failed:\n${replay.stderr}`);
      }
      await checkAcknowledged(store.options, acked);
      await checkIntegrity(store.dataDir);
    }
    t.diagnostic(
      `${killedInReplay} kills inside a replay; ${acked.count} acknowledged writes checked`,
    );
    assert.ok(killedInReplay >= 2, "no kill landed inside a replay");
  });
});

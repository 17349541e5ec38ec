// D1's batch() across SIGKILL: test/fixtures/d1-crash-child.ts runs batches until it is killed at
// a seeded point (most often with a batch in flight), and a fresh runtime then reads the database
// through env.DB. Replay a failing run with STEAD_CRASH_SEED.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { describe, it } from "node:test";
import type { D1Database } from "../../src/bindings/d1/index.ts";
import { createRuntime } from "../../src/index.ts";
import { runAndKill, CRASH_SEED as SEED } from "../support/crash-workload.ts";
import { mulberry32 } from "../support/seeded-random.ts";
import { type StoreOptions, TEST_STORAGE, testStore } from "../support/storage.ts";

const CHILD = new URL("../fixtures/d1-crash-child.ts", import.meta.url).pathname;
const RUNS = 16;
/** Kill after this many lines of the child's at most (a begin and an ack per batch; 0: once up). */
const MAX_LINES_BEFORE_KILL = 30;

/** A batch the child called batch() with: its generation's row count and bytes per row. */
interface Batch {
  rows: number;
  pad: number;
}

/** What the child printed over every run, parsed (see d1-crash-child.ts). */
interface Workload {
  /** Every batch the child began, acknowledged or not. */
  begun: Map<string, Batch>;
  acked: Set<string>;
  /** Batches seen in the database after an earlier kill: they stay. */
  stored: Set<string>;
}

/** Reads one run's lines into `workload`; the batch in flight when it was killed, if any. */
function record(workload: Workload, lines: string[]): string | undefined {
  assert.equal(lines[0], "ready", "the child's first line");
  let pending: string | undefined;
  for (const line of lines.slice(1)) {
    const [kind, generation, rows, pad] = line.split(" ");
    assert.ok(generation !== undefined, `malformed line: ${line}`);
    if (kind === "begin") {
      assert.equal(pending, undefined, `${generation} began before ${pending} was acknowledged`);
      workload.begun.set(generation, { rows: Number(rows), pad: Number(pad) });
      pending = generation;
    } else if (kind === "ack") {
      assert.equal(generation, pending, "the acknowledged batch is the one begun");
      workload.acked.add(generation);
      pending = undefined;
    } else assert.fail(`unknown line: ${line}`);
  }
  return pending;
}

/**
 * Opens the store with a fresh runtime and checks the database through `env.DB`: every batch in
 * it is whole, the ledger agrees with them, every acknowledged (or earlier seen) batch is there,
 * and at most `inFlight` beside them. Returns the batches it holds.
 */
async function check(
  store: StoreOptions,
  workload: Workload,
  inFlight: string | undefined,
): Promise<Set<string>> {
  await using rt = await createRuntime({ main: {}, d1_databases: [{ binding: "DB" }], ...store });
  const db = rt.env.DB as D1Database;
  assert.deepEqual(await db.prepare("PRAGMA quick_check").raw(), [["ok"]], "quick_check");
  const ledger = await db
    .prepare("SELECT batches, rows, last_gen FROM ledger")
    .first<{ batches: number; rows: number; last_gen: string | null }>();
  const { results: batches } = await db
    .prepare("SELECT gen, rows, pad FROM batches ORDER BY gen")
    .all<{ gen: string } & Batch>();
  const { results: entries } = await db
    .prepare(
      "SELECT gen, count(*) AS n, min(i) AS lo, max(i) AS hi, min(length(pad)) AS short, max(length(pad)) AS long FROM entries GROUP BY gen",
    )
    .all<{ gen: string; n: number; lo: number; hi: number; short: number; long: number }>();

  // Each batch is whole: the rows its generation inserted, all of them, as the child began it.
  const byGeneration = new Map(entries.map((entry) => [entry.gen, entry]));
  for (const { gen, rows, pad } of batches) {
    assert.deepEqual({ rows, pad }, workload.begun.get(gen), `batch ${gen} is not one begun`);
    const entry = byGeneration.get(gen);
    assert.deepEqual(
      entry && { n: entry.n, lo: entry.lo, hi: entry.hi, short: entry.short, long: entry.long },
      { n: rows, lo: 0, hi: rows - 1, short: pad, long: pad },
      `batch ${gen} has ${entry?.n ?? 0} of its ${rows} rows`,
    );
    byGeneration.delete(gen);
  }
  assert.deepEqual([...byGeneration.keys()], [], "rows of batches not recorded in `batches`");
  assert.deepEqual(
    ledger,
    {
      batches: batches.length,
      rows: entries.reduce((sum, entry) => sum + entry.n, 0),
      last_gen: batches.at(-1)?.gen ?? null,
    },
    "the ledger disagrees with the batches stored",
  );

  // Nothing acknowledged is lost, and only the batch in flight may be there beside.
  const stored = new Set(batches.map((batch) => batch.gen));
  for (const gen of workload.acked) assert.ok(stored.has(gen), `acknowledged ${gen} is missing`);
  for (const gen of workload.stored) assert.ok(stored.has(gen), `${gen} was there, and is gone`);
  const extra = [...stored].filter((gen) => !workload.acked.has(gen) && !workload.stored.has(gen));
  assert.deepEqual(
    extra.filter((gen) => gen !== inFlight),
    [],
    `unacknowledged batches beside the one in flight (${inFlight ?? "none"})`,
  );
  return stored;
}

describe("D1 survives SIGKILL", () => {
  it("keeps every acknowledged batch(), and never part of one", {
    timeout: 120_000,
  }, async (t) => {
    t.diagnostic(`seed ${SEED} (replay with STEAD_CRASH_SEED=${SEED})`);
    using store = testStore("stead-d1-crash-");
    const random = mulberry32(SEED);
    const workload: Workload = { begun: new Map(), acked: new Set(), stored: new Set() };
    let killedInFlight = 0;
    let committedUnacked = 0;
    for (let run = 0; run < RUNS; run++) {
      const killAfter = Math.floor(random() * (MAX_LINES_BEFORE_KILL + 1));
      try {
        const result = await runAndKill(store, run, SEED, killAfter, CHILD);
        assert.equal(
          result.signal,
          "SIGKILL",
          `the child exited on its own (code ${result.code}):\n${result.stderr}`,
        );
        const inFlight = record(workload, result.lines);
        if (inFlight !== undefined) killedInFlight++;
        const stored = await check(store.options, workload, inFlight);
        if (inFlight !== undefined && stored.has(inFlight)) committedUnacked++;
        workload.stored = stored;
        // The durable state is elsewhere: in half of the rounds the working copies go too, and
        // the next round (and check) rebuilds the database from the store alone.
        if (!TEST_STORAGE.capabilities.localFiles && run % 2 === 1) {
          rmSync(store.dataDir, { recursive: true, force: true });
        }
      } catch (error) {
        throw new Error(
          `D1 crash run ${run} failed (seed ${SEED}, kill after ${killAfter} lines; replay with STEAD_CRASH_SEED=${SEED}): ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
    t.diagnostic(
      `${workload.acked.size} acknowledged batches checked over ${RUNS} kills; ${killedInFlight} kills with a batch in flight, ${committedUnacked} of those batches stored unacknowledged`,
    );
    assert.ok(workload.acked.size > 0, "some batches were acknowledged");
    // How many kills land mid-batch depends on the machine's load (7 to 16 of 16 seen): a
    // quarter still shows the kills reach inside batches, without failing a loaded CI run.
    assert.ok(
      killedInFlight >= RUNS / 4,
      `only ${killedInFlight} of ${RUNS} kills landed while a batch was in flight`,
    );
  });
});

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { createRuntime, type R2Bucket } from "../../src/index.ts";
import { content, PART_BYTES } from "../fixtures/r2-crash-content.ts";
import { runAndKill, CRASH_SEED as SEED } from "../support/crash-workload.ts";
import { mulberry32 } from "../support/seeded-random.ts";
import { skipUnless, testStore } from "../support/storage.ts";

const CHILD = new URL("../fixtures/r2-crash-child.ts", import.meta.url).pathname;
const RUNS = 8;
const KEYS = ["k0", "k1", "k2", "k3"];

/** The bytes of a generation's object, as the child wrote them. */
function expectedMd5(kind: string, generation: string, size: number): string {
  const hash = createHash("md5");
  if (kind === "put") hash.update(content(generation, size));
  else {
    for (const [i, bytes] of [PART_BYTES, PART_BYTES, size].entries()) {
      hash.update(content(`${generation}/${i}`, bytes));
    }
  }
  return hash.digest("hex");
}

describe("R2 survives SIGKILL", () => {
  it("every acknowledged put and multipart complete is there whole; nothing half-written is", {
    skip: skipUnless("localFiles", "reads the bucket's files in the data directory"),
    timeout: 240_000,
  }, async () => {
    using store = testStore();
    const random = mulberry32(SEED);
    /** Per key: every generation written (acknowledged or not), and the last acknowledged. */
    const written = new Map<string, { kind: string; size: number }>();
    const lastAcked = new Map<string, string>();
    for (let run = 0; run < RUNS; run++) {
      const killAfter = Math.floor(random() * 10);
      const result = await runAndKill(store, run, SEED, killAfter, CHILD);
      assert.equal(
        result.signal,
        "SIGKILL",
        `run ${run} (seed ${SEED}) ended by itself: ${result.stderr}`,
      );
      for (const line of result.lines) {
        if (line === "ready") continue;
        const [kind, key, generation, size] = line.split(" ");
        written.set(generation!, { kind: kind!, size: Number(size) });
        lastAcked.set(key!, generation!);
      }
      // Check after every crash, with the store reopened (its leftovers swept).
      await using rt = await createRuntime({
        main: new URL("../fixtures/r2-worker.ts", import.meta.url),
        r2_buckets: [{ binding: "BUCKET" }],
        ...store.options,
      });
      const bucket = rt.env.BUCKET as R2Bucket;
      for (const key of KEYS) {
        const acked = lastAcked.get(key);
        const object = await bucket.get(key);
        if (acked === undefined) continue;
        assert.ok(
          object !== null,
          `run ${run} (seed ${SEED}): acknowledged ${key} ${acked} is missing`,
        );
        const generation = object.customMetadata!.generation!;
        assert.ok(
          generation >= acked,
          `run ${run} (seed ${SEED}): ${key} went back from ${acked} to ${generation}`,
        );
        const md5 = createHash("md5");
        for await (const chunk of object.body) md5.update(chunk);
        const actual = md5.digest("hex");
        // A write the child had not acknowledged may be there, whole: its bytes tell its size.
        const known = written.get(generation);
        if (known !== undefined) {
          assert.equal(
            actual,
            expectedMd5(known.kind, generation, known.size),
            `${key} ${generation} is damaged`,
          );
        } else {
          const size = Number(object.customMetadata!.size ?? object.size - 2 * PART_BYTES);
          const kind = object.customMetadata!.size === undefined ? "mp" : "put";
          assert.equal(
            actual,
            expectedMd5(kind, generation, size),
            `${key} ${generation} (unacknowledged) is damaged`,
          );
        }
      }
      // Every file of the bucket is named by a record: nothing half-written is left behind.
      const db = new DatabaseSync(join(store.dataDir, "r2.sqlite"), { readOnly: true });
      const named = new Set<string>();
      for (const row of db.prepare("SELECT segments FROM r2_objects").all()) {
        for (const segment of JSON.parse(row.segments as string)) named.add(segment.id);
      }
      for (const row of db.prepare("SELECT blob FROM r2_parts").all())
        named.add(row.blob as string);
      db.close();
      assert.deepEqual(
        readdirSync(join(store.dataDir, "r2-blobs")).filter((f) => !named.has(f)),
        [],
      );
    }
    assert.ok(lastAcked.size > 0, "some writes were acknowledged");
  });
});

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { writeFiles } from "../support/app-files.ts";
import { startStead } from "../support/stead-process.ts";
import { testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const WORKER = new URL("../fixtures/r2-worker.ts", import.meta.url).pathname;
const MiB = 1024 * 1024;
/** Just under the HTTP front's default body limit (100 MiB, as on Cloudflare). */
const OBJECT_MIB = 96;

/** Mebibyte `i` of the object: a pattern that differs from one MiB to the next. */
function mebibyte(i: number): Uint8Array {
  const chunk = new Uint8Array(MiB);
  for (let j = 0; j < MiB; j += 4096) chunk[j] = (i * 7 + j / 4096) & 0xff;
  chunk[0] = i & 0xff;
  return chunk;
}

/** Peak resident memory of a process, in bytes (Linux /proc). */
function peakRss(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  assert.ok(match, "VmHWM in /proc/<pid>/status");
  return Number(match[1]) * 1024;
}

describe("R2 through stead start", () => {
  it("streams a large upload in and a ranged download out with memory bounded", async () => {
    using store = testStore();
    using dir = tempDataDir("stead-r2-app-");
    writeFiles(dir.path, {
      "wrangler.jsonc": `{ "name": "r2-app", "main": "${WORKER}", "compatibility_date": "2026-01-01",
        "r2_buckets": [{ "binding": "BUCKET", "bucket_name": "media" }] }`,
    });
    await using stead = await startStead(
      "start",
      [dir.path, "--host", "127.0.0.1", "--threads", "1"],
      {
        store,
      },
    );
    // Warm up the request path, then measure from here.
    await (await fetch(`${stead.url}/warm`, { method: "PUT", body: "x" })).text();
    const before = peakRss(stead.child.pid!);

    // Three objects in and out (about 600 MiB through the process). The garbage collector lets
    // some 64 MiB of freed buffers wait whatever the size (a 384 MiB put peaks at the same), so
    // the bound is one object: no object is ever held whole.
    for (const name of ["a", "b", "big"]) {
      const whole = createHash("md5");
      let i = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (i === OBJECT_MIB) return controller.close();
          const chunk = mebibyte(i++);
          whole.update(chunk);
          controller.enqueue(chunk);
        },
      });
      const put = await fetch(`${stead.url}/videos/${name}.bin`, {
        method: "PUT",
        body,
        duplex: "half",
        headers: { "content-type": "video/mp4" },
      } as RequestInit);
      assert.equal(put.status, 200);
      const stored = (await put.json()) as { size: number; etag: string };
      assert.equal(stored.size, OBJECT_MIB * MiB);
      assert.equal(stored.etag, whole.digest("hex"));
    }

    // A range across mebibytes 40..49, streamed back.
    const start = 40 * MiB + 123;
    const end = 50 * MiB - 1;
    const ranged = await fetch(`${stead.url}/videos/big.bin`, {
      headers: { range: `bytes=${start}-${end}` },
    });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get("content-range"), `bytes ${start}-${end}/${OBJECT_MIB * MiB}`);
    assert.equal(ranged.headers.get("content-type"), "video/mp4");
    // An R2 body's length is known: it is sent with a Content-Length, as Cloudflare sends it.
    assert.equal(ranged.headers.get("content-length"), String(end - start + 1));
    const expected = createHash("md5");
    expected.update(mebibyte(40).subarray(123));
    for (let m = 41; m < 50; m++) expected.update(mebibyte(m));
    const got = createHash("md5");
    let length = 0;
    for await (const chunk of ranged.body!) {
      got.update(chunk);
      length += chunk.byteLength;
    }
    assert.equal(length, end - start + 1);
    assert.equal(got.digest("hex"), expected.digest("hex"));

    // Every object, read to its end.
    for (const name of ["a", "b", "big"]) {
      let total = 0;
      for await (const chunk of (await fetch(`${stead.url}/videos/${name}.bin`)).body!) {
        total += chunk.byteLength;
      }
      assert.equal(total, OBJECT_MIB * MiB);
    }

    const growth = peakRss(stead.child.pid!) - before;
    if (process.env.STEAD_R2_REPORT) console.log(`peak RSS grew ${(growth / MiB).toFixed(1)} MiB`);
    assert.ok(
      growth < OBJECT_MIB * MiB,
      `peak RSS grew ${(growth / MiB).toFixed(1)} MiB moving three ${OBJECT_MIB} MiB objects in and out`,
    );
  });
});

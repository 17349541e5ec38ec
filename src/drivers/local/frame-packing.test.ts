import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { packFrames, unpackFrames } from "./frame-packing.ts";

/** `count` frames of `pageSize`, each page zeros but for the runs `fill` puts in. */
function frames(count: number, pageSize: number, fill: (page: Buffer, i: number) => void): Buffer {
  const bytes = Buffer.alloc(count * (24 + pageSize));
  for (let i = 0; i < count; i++) {
    const start = i * (24 + pageSize);
    randomBytes(24).copy(bytes, start);
    fill(bytes.subarray(start + 24, start + 24 + pageSize), i);
  }
  return bytes;
}

describe("frame packing", () => {
  it("gives back a commit's frames byte for byte, zeros left out", () => {
    for (const pageSize of [512, 4096, 65536]) {
      const original = frames(3, pageSize, (page, i) => {
        page[0] = 13; // a b-tree page header at the start...
        page.fill(7, 1, 12);
        randomBytes(40).copy(page, pageSize - 40 - i); // ...cells at the end
        page[pageSize >> 1] = 1; // a lone byte in the middle
        page.fill(2, 100, 110); // short gaps stay in one run
        page.fill(3, 115, 120);
      });
      const packed = packFrames(original, 3, pageSize);
      assert.ok(packed !== undefined && packed.length < original.length / 2, `${pageSize}`);
      assert.deepEqual(unpackFrames(packed, 3, pageSize), original);
    }
  });

  it("keeps frames as they are when packing would not make them smaller", () => {
    const full = frames(2, 4096, (page) => randomBytes(4096).copy(page));
    assert.equal(packFrames(full, 2, 4096), undefined);
    const empty = frames(1, 4096, () => {});
    const packed = packFrames(empty, 1, 4096)!;
    assert.equal(packed.length, 26, "a zero page is its frame header and no run");
    assert.deepEqual(unpackFrames(packed, 1, 4096), empty);
  });

  it("refuses bytes that are not packed frames, so replay stops there as at a torn tail", () => {
    const original = frames(2, 1024, (page) => page.fill(9, 10, 50));
    const packed = packFrames(original, 2, 1024)!;
    assert.equal(unpackFrames(packed.subarray(0, packed.length - 1), 2, 1024), undefined);
    assert.equal(unpackFrames(Buffer.concat([packed, Buffer.of(0)]), 2, 1024), undefined);
    assert.equal(unpackFrames(packed, 3, 1024), undefined);
    const beyond = Buffer.from(packed);
    beyond.writeUInt32BE(1020, 26); // the first run's offset: past the page with its length
    assert.equal(unpackFrames(beyond, 2, 1024), undefined);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SharedWalReads } from "./shared-wal-reads.ts";

/** A file of `size` bytes (byte i holds i % 251), read through `reads` counting each call. */
function file(size: number) {
  const bytes = Buffer.from(Array.from({ length: size }, (_, i) => i % 251));
  const calls: Array<[length: number, position: number]> = [];
  const shared = new SharedWalReads((length, position) => {
    calls.push([length, position]);
    return Buffer.from(bytes.subarray(position, position + length));
  });
  return { bytes, calls, shared };
}

describe("SharedWalReads", () => {
  it("reads the header and the frames after a commit once for both readers", () => {
    const { bytes, calls, shared } = file(32 + 3 * 4120);
    shared.during(() => {
      // History's scan: the header, then one frame and the next header.
      assert.deepEqual(shared.readAt(32, 0), bytes.subarray(0, 32));
      assert.deepEqual(shared.readAt(4144, 32), bytes.subarray(32, 32 + 4144));
      // The journal's capture: the header, then two frames.
      assert.deepEqual(shared.readAt(32, 0), bytes.subarray(0, 32));
      assert.deepEqual(shared.readAt(8240, 32), bytes.subarray(32, 32 + 8240));
    });
    assert.equal(calls.length, 2);
  });

  it("serves a read past the end of the file short, as the file would", () => {
    const { bytes, calls, shared } = file(32 + 4120);
    shared.during(() => {
      assert.deepEqual(shared.readAt(4144, 32), bytes.subarray(32));
      assert.deepEqual(shared.readAt(8240, 32), bytes.subarray(32));
      assert.equal(shared.readAt(100, 32 + 4120).length, 0);
    });
    assert.equal(calls.length, 1);
  });

  it("reads the file again for what the chunk does not cover, and every time outside `during`", () => {
    const { bytes, calls, shared } = file(64 * 1024);
    shared.during(() => {
      shared.readAt(4144, 32);
      assert.deepEqual(shared.readAt(100, 20_000), bytes.subarray(20_000, 20_100));
    });
    assert.equal(calls.length, 2);
    shared.readAt(32, 0);
    shared.readAt(32, 0);
    assert.equal(calls.length, 4);
    // What a sharing stretch read is forgotten when it ends.
    shared.during(() => shared.readAt(32, 0));
    assert.equal(calls.length, 5);
  });
});

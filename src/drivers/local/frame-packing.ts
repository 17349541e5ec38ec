/**
 * WAL frames with their pages' runs of zeros left out, for the node journal. A page of a small
 * object is mostly zeros (a b-tree page keeps its free space in the middle, zero until used), so
 * a commit's frames pack to a fraction of their size: fewer journal bytes to write and sync per
 * commit, and segments fill, and retire, that much less often.
 *
 * ```
 * packed  per frame: frame header (24 bytes, as is) | run count u16 | runs
 * run     offset in the page u32 | length u32 | that many bytes of the page
 * ```
 *
 * Bytes not in a run are zero. Integers big-endian. A page's runs are in order and do not
 * overlap; a gap of fewer than 16 zero bytes is kept in the run around it. The packer works in
 * 4-byte words (page sizes are powers of two from 512), so its runs start and end on them.
 */

const FRAME_HEADER_BYTES = 24;
/** Zero words (4 bytes) a gap between runs must have to be left out (a run costs 8 bytes). */
const MIN_GAP_WORDS = 4;
const MAX_RUNS = 0xffff;

/**
 * `frames` (`count` frames of `pageSize`-byte pages, as the WAL holds them) packed, or undefined
 * when packing would not make them smaller (then the journal keeps them as they are).
 */
export function packFrames(
  frames: Uint8Array,
  count: number,
  pageSize: number,
): Buffer | undefined {
  const raw = count * (FRAME_HEADER_BYTES + pageSize);
  if (frames.length !== raw) {
    throw new RangeError(
      `${count} frames of ${pageSize} bytes are ${raw} bytes, not ${frames.length}`,
    );
  }
  // Words cover the page only if its size is a multiple of 4 (SQLite's always are).
  if (pageSize % 4 !== 0) return undefined;
  // Packed into a buffer kept for the next commit; only what it holds is copied out.
  if (packing.length < raw) packing = Buffer.allocUnsafe(Math.max(raw, packing.length * 2));
  const out = packing;
  let at = 0;
  for (let frame = 0; frame < count; frame++) {
    const start = frame * (FRAME_HEADER_BYTES + pageSize);
    if (at + FRAME_HEADER_BYTES + 2 > raw) return undefined;
    out.set(frames.subarray(start, start + FRAME_HEADER_BYTES), at);
    at += FRAME_HEADER_BYTES;
    const countAt = at;
    at += 2;
    const page = frames.subarray(start + FRAME_HEADER_BYTES, start + FRAME_HEADER_BYTES + pageSize);
    const words = wordsOf(page);
    const wordCount = pageSize >> 2;
    let runs = 0;
    let position = 0;
    while (position < wordCount) {
      while (position < wordCount && words[position] === 0) position++;
      if (position === wordCount) break;
      // A run goes on until MIN_GAP zero bytes in a row (or the page's end).
      let end = position + 1;
      let zeros = 0;
      while (end < wordCount && zeros < MIN_GAP_WORDS) {
        zeros = words[end] === 0 ? zeros + 1 : 0;
        end++;
      }
      end -= zeros;
      const offset = position << 2;
      const length = (end - position) << 2;
      if (at + 8 + length > raw || runs === MAX_RUNS) return undefined;
      out.writeUInt32BE(offset, at);
      out.writeUInt32BE(length, at + 4);
      out.set(page.subarray(offset, offset + length), at + 8);
      at += 8 + length;
      runs++;
      position = end;
    }
    out.writeUInt16BE(runs, countAt);
  }
  return at < raw ? Buffer.from(out.subarray(0, at)) : undefined;
}

/** A page as 32-bit words (zero or not is all that is asked), copied first if not aligned. */
function wordsOf(page: Uint8Array): Uint32Array {
  if (page.byteOffset % 4 === 0)
    return new Uint32Array(page.buffer, page.byteOffset, page.length >> 2);
  if (scratch.byteLength < page.length) scratch = new Uint8Array(page.length);
  scratch.set(page);
  return new Uint32Array(scratch.buffer, 0, page.length >> 2);
}
let scratch = new Uint8Array(4096);
let packing = Buffer.allocUnsafe(0);

/**
 * The frames `packFrames` packed, byte for byte; undefined when `packed` is not `count` packed
 * frames of `pageSize` (a damaged record).
 */
export function unpackFrames(
  packed: Uint8Array,
  count: number,
  pageSize: number,
): Buffer | undefined {
  // SQLite's page sizes; and no more frames than the packed bytes could describe.
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return undefined;
  if (count * (FRAME_HEADER_BYTES + 2) > packed.length) return undefined;
  const frames = Buffer.alloc(count * (FRAME_HEADER_BYTES + pageSize));
  const view = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  let at = 0;
  for (let frame = 0; frame < count; frame++) {
    const start = frame * (FRAME_HEADER_BYTES + pageSize);
    if (at + FRAME_HEADER_BYTES + 2 > view.length) return undefined;
    view.copy(frames, start, at, at + FRAME_HEADER_BYTES);
    at += FRAME_HEADER_BYTES;
    const runs = view.readUInt16BE(at);
    at += 2;
    let previousEnd = 0;
    for (let run = 0; run < runs; run++) {
      if (at + 8 > view.length) return undefined;
      const offset = view.readUInt32BE(at);
      const length = view.readUInt32BE(at + 4);
      at += 8;
      if (offset < previousEnd || length === 0 || offset + length > pageSize) return undefined;
      if (at + length > view.length) return undefined;
      view.copy(frames, start + FRAME_HEADER_BYTES + offset, at, at + length);
      at += length;
      previousEnd = offset + length;
    }
  }
  return at === view.length ? frames : undefined;
}

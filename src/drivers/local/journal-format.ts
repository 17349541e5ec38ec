import { crc32 } from "node:zlib";
import type { WalFrames } from "../sqlite-wal/wal-frames.ts";
import { packFrames, unpackFrames } from "./frame-packing.ts";

/**
 * The node journal's file format (see `NodeJournal`). A segment file is a 32-byte header, then
 * records back to back:
 *
 * ```
 * header  "SteadJnl" | version u32 | salt u32 | sequence u64 | crc32 of the 24 bytes before | 4 zero bytes
 * record  length u32 (of the whole record) | crc32 u32 (salt, then the bytes after this field)
 *         | kind u8 | 0 u8 | key length u16 | key (UTF-8: "<namespace>/<id>.sqlite")
 *         | kind "frames": WAL header (32 bytes) | first frame u32 | frame count u32 | page size u32 | frames
 *         | kind "packed frames": the same, the frames packed (`frame-packing.ts`)
 *         | kind "reset": nothing more
 * ```
 *
 * All integers big-endian. The salt is new each time a segment file is (re)started, and every
 * record's checksum covers it, so records left over from the file's earlier use never read as
 * valid; nor do zeros. A reader stops at the first record that is not valid: a torn tail.
 *
 * Packed frames (kind 3) came with Stead's version of 2026-12-07: an older version stops at the
 * first one as at a torn tail, so go back to one only after a clean stop (which leaves no
 * journal to replay).
 */

export const SEGMENT_HEADER_BYTES = 32;
const MAGIC = Buffer.from("SteadJnl", "latin1");
const VERSION = 1;
const RECORD_PREFIX_BYTES = 8;
const KIND_FRAMES = 1;
const KIND_RESET = 2;
const KIND_PACKED_FRAMES = 3;
/** A record longer than this is not one (a WAL holds at most 1,000s of frames between flushes). */
const MAX_RECORD_BYTES = 1 << 30;

export interface SegmentHeader {
  readonly salt: number;
  readonly sequence: bigint;
}

/** An object's newly committed frames, ready to be journaled: packed when that is smaller. */
export interface JournalFrames {
  readonly frames: WalFrames;
  /** `frames.frames` packed (`packFrames`), or undefined: recorded as they are. */
  readonly packed: Buffer | undefined;
}

/** Packs `frames` for the journal (once per commit, before its length is needed). */
export function journalFrames(frames: WalFrames): JournalFrames {
  return { frames, packed: packFrames(frames.frames, frames.frameCount, frames.pageSize) };
}

/** One record as read back. `frames` is absent for a reset. */
export interface JournalRecord {
  /** The object's database, relative to the data directory. */
  readonly key: string;
  readonly frames?: WalFrames;
}

export function encodeSegmentHeader(header: SegmentHeader): Buffer {
  const bytes = Buffer.alloc(SEGMENT_HEADER_BYTES);
  MAGIC.copy(bytes, 0);
  bytes.writeUInt32BE(VERSION, 8);
  bytes.writeUInt32BE(header.salt, 12);
  bytes.writeBigUInt64BE(header.sequence, 16);
  bytes.writeUInt32BE(crc32(bytes.subarray(0, 24)), 24);
  return bytes;
}

/** The header of a segment file, or undefined when it is not one (zeroed: a retired segment). */
export function decodeSegmentHeader(bytes: Buffer): SegmentHeader | undefined {
  if (bytes.length < SEGMENT_HEADER_BYTES || !bytes.subarray(0, 8).equals(MAGIC)) return undefined;
  if (bytes.readUInt32BE(8) !== VERSION) return undefined;
  if (crc32(bytes.subarray(0, 24)) !== bytes.readUInt32BE(24)) return undefined;
  return { salt: bytes.readUInt32BE(12), sequence: bytes.readBigUInt64BE(16) };
}

/** The encoded length of a record (`frames` undefined: a reset). */
export function recordLength(key: string, frames: JournalFrames | undefined): number {
  const head = RECORD_PREFIX_BYTES + 4 + Buffer.byteLength(key, "utf8");
  if (frames === undefined) return head;
  return head + 44 + (frames.packed ?? frames.frames.frames).length;
}

/** A record of an object's newly committed WAL frames. */
export function encodeFramesRecord(salt: number, key: string, journal: JournalFrames): Buffer[] {
  const { frames, packed } = journal;
  const keyBytes = Buffer.from(key, "utf8");
  const head = Buffer.alloc(RECORD_PREFIX_BYTES + 4 + keyBytes.length + 32 + 12);
  let at = RECORD_PREFIX_BYTES;
  head.writeUInt8(packed === undefined ? KIND_FRAMES : KIND_PACKED_FRAMES, at);
  head.writeUInt16BE(keyBytes.length, at + 2);
  at += 4;
  keyBytes.copy(head, at);
  at += keyBytes.length;
  frames.header.copy(head, at, 0, 32);
  at += 32;
  head.writeUInt32BE(frames.firstFrame, at);
  head.writeUInt32BE(frames.frameCount, at + 4);
  head.writeUInt32BE(frames.pageSize, at + 8);
  return seal(salt, [head, packed ?? frames.frames]);
}

/** A record saying the object's WAL was removed here (a point-in-time restore replaced its file). */
export function encodeResetRecord(salt: number, key: string): Buffer[] {
  const keyBytes = Buffer.from(key, "utf8");
  const head = Buffer.alloc(RECORD_PREFIX_BYTES + 4 + keyBytes.length);
  head.writeUInt8(KIND_RESET, RECORD_PREFIX_BYTES);
  head.writeUInt16BE(keyBytes.length, RECORD_PREFIX_BYTES + 2);
  keyBytes.copy(head, RECORD_PREFIX_BYTES + 4);
  return seal(salt, [head]);
}

/** Fills in the length and checksum of a record whose first buffer starts with their room. */
function seal(salt: number, parts: Buffer[]): Buffer[] {
  const head = parts[0]!;
  let length = 0;
  for (const part of parts) length += part.length;
  head.writeUInt32BE(length, 0);
  const saltBytes = Buffer.alloc(4);
  saltBytes.writeUInt32BE(salt);
  let sum = crc32(saltBytes);
  sum = crc32(head.subarray(RECORD_PREFIX_BYTES), sum);
  for (let i = 1; i < parts.length; i++) sum = crc32(parts[i]!, sum);
  head.writeUInt32BE(sum, 4);
  return parts;
}

/**
 * The valid records of a segment's bytes (after its header), in order, each with the offset just
 * past it. Stops at the first record that is not whole and valid.
 */
export function* readRecords(
  bytes: Buffer,
  salt: number,
): Generator<JournalRecord & { end: number }> {
  const saltBytes = Buffer.alloc(4);
  saltBytes.writeUInt32BE(salt);
  const saltSum = crc32(saltBytes);
  let at = SEGMENT_HEADER_BYTES;
  while (at + RECORD_PREFIX_BYTES + 4 <= bytes.length) {
    const length = bytes.readUInt32BE(at);
    if (length < RECORD_PREFIX_BYTES + 4 || length > MAX_RECORD_BYTES) return;
    if (at + length > bytes.length) return;
    const body = bytes.subarray(at + RECORD_PREFIX_BYTES, at + length);
    if (crc32(body, saltSum) !== bytes.readUInt32BE(at + 4)) return;
    const record = decodeBody(body);
    if (record === undefined) return;
    at += length;
    yield { ...record, end: at };
  }
}

function decodeBody(body: Buffer): JournalRecord | undefined {
  const kind = body.readUInt8(0);
  const keyLength = body.readUInt16BE(2);
  if (4 + keyLength > body.length) return undefined;
  const key = body.toString("utf8", 4, 4 + keyLength);
  if (kind === KIND_RESET) return { key };
  if (kind !== KIND_FRAMES && kind !== KIND_PACKED_FRAMES) return undefined;
  let at = 4 + keyLength;
  if (at + 44 > body.length) return undefined;
  const header = body.subarray(at, at + 32);
  at += 32;
  const firstFrame = body.readUInt32BE(at);
  const frameCount = body.readUInt32BE(at + 4);
  const pageSize = body.readUInt32BE(at + 8);
  at += 12;
  const frames =
    kind === KIND_FRAMES
      ? body.subarray(at)
      : unpackFrames(body.subarray(at), frameCount, pageSize);
  if (frames === undefined || frames.length !== frameCount * (24 + pageSize)) return undefined;
  return { key, frames: { header, firstFrame, frameCount, frames, pageSize } };
}

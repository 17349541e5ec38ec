/**
 * Reads committed transactions out of a SQLite WAL file, as page images, right after COMMIT.
 * Shared by every driver that ships or keeps a database's changes page by page (the local
 * driver's history; a PostgreSQL driver's log rows).
 *
 * The WAL format (https://www.sqlite.org/fileformat2.html#walformat): a 32-byte header (magic,
 * version, page size, checkpoint sequence, salt-1, salt-2, checksum), then frames of a 24-byte
 * header (page number, database size in pages after a commit or 0, salt-1, salt-2, checksum)
 * and one page. Each frame's checksum covers the header's first 8 bytes and the page, chained
 * from the previous frame's (the first from the WAL header's). A frame belongs to the WAL only
 * if its salts equal the header's and its checksum is right; a transaction is the frames up to
 * and including one whose database size is not zero (its commit frame). SQLite reads the WAL the
 * same way on recovery, so what this reader accepts is exactly what SQLite replays.
 */

import { endianness } from "node:os";

/** One committed transaction: the last image of each page it wrote, and the database size after. */
export interface WalTransaction {
  /** Page number (1-based) -> page image; each page once, its last image in the transaction. */
  readonly pages: Map<number, Buffer>;
  /** Database size in pages after the commit (pages past it are truncated away). */
  readonly dbSize: number;
  /** Where the transaction ends in the WAL: `salt1`/`salt2` of the WAL, and its commit frame. */
  readonly position: WalPosition;
}

/** A point in one WAL: its salts (which change whenever SQLite restarts the WAL) and a frame. */
export interface WalPosition {
  readonly salt1: number;
  readonly salt2: number;
  /** 1-based index of the last frame included; 0 before the first frame. */
  readonly frame: number;
}

/** Reads `length` bytes at `position` into a new buffer; fewer at the end of the file. */
export type ReadAt = (length: number, position: number) => Buffer;

export const WAL_HEADER_SIZE = 32;
const FRAME_HEADER_SIZE = 24;
const MAGIC_LITTLE = 0x377f0682;
const MAGIC_BIG = 0x377f0683;

/** Raw committed frames of one WAL, as `WalReader.readCommittedFrames` returns them. */
export interface WalFrames {
  /** The WAL's 32-byte header (its salts and checksum seed the frames' checksums). */
  readonly header: Buffer;
  /** 0-based index of the first frame in the WAL. */
  readonly firstFrame: number;
  readonly frameCount: number;
  /** `frameCount` frames of a 24-byte header and a page each, the last a commit frame. */
  readonly frames: Buffer;
  readonly pageSize: number;
}

/** A commit frame a resume point says was returned before. */
const SEEN = Symbol("seen");

interface WalHeader {
  /** The header as read. */
  readonly bytes: Buffer;
  readonly bigEndian: boolean;
  readonly pageSize: number;
  readonly salt1: number;
  readonly salt2: number;
  readonly checksum: readonly [number, number];
}

/**
 * Follows one database's WAL across commits and restarts. Call `readCommitted` right after
 * each COMMIT (and once after opening): it returns every transaction committed since the last
 * call, verifying salts and checksums, and notices when SQLite restarted the WAL (new salts),
 * starting again from its first frame.
 */
export class WalReader {
  #header: WalHeader | undefined;
  /** Frames of the current WAL already returned. */
  #frame = 0;
  /** The checksum chain after frame `#frame`. */
  #checksum: [number, number] = [0, 0];

  /**
   * Starts reading after `position` when the WAL still holds it (same salts, and that frame is a
   * valid commit frame); otherwise from the WAL's first frame. For resuming after a reopen.
   */
  constructor(start?: WalPosition) {
    this.#resume = start;
  }

  #resume: WalPosition | undefined;

  /** The position after the last transaction returned. */
  get position(): WalPosition {
    const header = this.#header;
    return { salt1: header?.salt1 ?? 0, salt2: header?.salt2 ?? 0, frame: this.#frame };
  }

  /** The page size of the WAL last read, or undefined before one was seen. */
  get pageSize(): number | undefined {
    return this.#header?.pageSize;
  }

  /** Transactions committed since the last call, oldest first. */
  readCommitted(readAt: ReadAt): WalTransaction[] {
    const transactions: WalTransaction[] = [];
    let pages = new Map<number, Buffer>();
    this.#read(readAt, (bytes, commit) => {
      pages.set(bytes.readUInt32BE(0), bytes.subarray(FRAME_HEADER_SIZE));
      if (commit === undefined) return;
      if (commit !== SEEN)
        transactions.push({ pages, dbSize: bytes.readUInt32BE(4), position: commit });
      pages = new Map();
    });
    return transactions;
  }

  /**
   * The raw frames committed since the last call (headers and pages, exactly as SQLite wrote
   * them), with the WAL header they belong to: what a log needs to write the WAL back byte for
   * byte (the local driver's node journal). Undefined when nothing was committed. Like
   * `readCommitted`, verifies every frame and stops at the last valid commit frame.
   */
  readCommittedFrames(readAt: ReadAt): WalFrames | undefined {
    let first = -1;
    let frames: Buffer[] = [];
    let pending: Buffer[] = [];
    let last = 0;
    const header = this.#read(readAt, (bytes, commit, frame) => {
      if (commit === SEEN) {
        pending = [];
        return;
      }
      if (first < 0) first = frame - 1;
      pending.push(bytes);
      if (commit === undefined) return;
      frames = frames.concat(pending);
      pending = [];
      last = frame;
    });
    if (header === undefined || frames.length === 0) return undefined;
    return {
      header: header.bytes,
      firstFrame: first,
      frameCount: last - first,
      frames: frames.length === 1 ? frames[0]! : Buffer.concat(frames),
      pageSize: header.pageSize,
    };
  }

  /**
   * Visits every valid frame after the last commit returned, in order, with its commit position
   * when it is a commit frame (`SEEN` for one a resume point says was returned before the
   * reopen). Advances past the last commit frame. Returns the WAL's header.
   */
  #read(
    readAt: ReadAt,
    visit: (bytes: Buffer, commit: WalPosition | typeof SEEN | undefined, frame: number) => void,
  ): WalHeader | undefined {
    const header = parseHeader(readAt(WAL_HEADER_SIZE, 0));
    if (header === undefined) return undefined;
    const current = this.#header;
    if (current === undefined || current.salt1 !== header.salt1 || current.salt2 !== header.salt2) {
      // A new WAL (or the first read): start at its first frame, or where a resume says.
      this.#header = header;
      this.#frame = 0;
      this.#checksum = [header.checksum[0], header.checksum[1]];
    }
    const resume = this.#resume;
    this.#resume = undefined;
    const frameSize = FRAME_HEADER_SIZE + header.pageSize;
    let frame = this.#frame;
    const start = frame;
    let checksum = this.#checksum;
    // Frames are contiguous: read many per call (one system call, not one per frame). Each chunk
    // is a new buffer, so page images are views into it rather than copies.
    for (const chunk of frameChunks(readAt, frameSize, frame, this.#chunkFrames)) {
      let valid = 0;
      for (let at = 0; at + frameSize <= chunk.length; at += frameSize) {
        const bytes = chunk.subarray(at, at + frameSize);
        if (bytes.readUInt32BE(8) !== header.salt1 || bytes.readUInt32BE(12) !== header.salt2)
          break;
        const next = walChecksum(bytes.subarray(0, 8), header.bigEndian, checksum);
        walChecksum(bytes.subarray(FRAME_HEADER_SIZE), header.bigEndian, next, next);
        if (next[0] !== bytes.readUInt32BE(16) || next[1] !== bytes.readUInt32BE(20)) break;
        valid++;
        checksum = next;
        frame++;
        if (bytes.readUInt32BE(4) === 0) {
          visit(bytes, undefined, frame);
          continue;
        }
        this.#frame = frame;
        this.#checksum = checksum;
        // Frames up to a resume point were returned before the reopen: skip them.
        const seen =
          resume !== undefined &&
          resume.salt1 === header.salt1 &&
          resume.salt2 === header.salt2 &&
          frame <= resume.frame;
        visit(bytes, seen ? SEEN : { salt1: header.salt1, salt2: header.salt2, frame }, frame);
      }
      if (valid * frameSize < chunk.length || chunk.length === 0) break;
    }
    // The next read starts at what this one found and one frame more (which usually ends it):
    // reading right after each commit, a chunk of 16 frames would be 64 KiB for one new page.
    this.#chunkFrames = Math.min(Math.max(frame - start + 1, 2), 16);
    return header;
  }

  /** Frames of the first read of the next call (doubling while the WAL goes on). */
  #chunkFrames = 16;
}

/**
 * Reads the WAL's frames from `frame` on in chunks of `first` frames, doubling up to 1,024
 * (4 MiB of 4 KiB pages); the caller stops when a chunk ends in an invalid frame.
 */
function* frameChunks(
  readAt: ReadAt,
  frameSize: number,
  frame: number,
  first: number,
): Generator<Buffer> {
  let frames = first;
  for (;;) {
    const chunk = readAt(frames * frameSize, WAL_HEADER_SIZE + frame * frameSize);
    yield chunk;
    if (chunk.length < frames * frameSize) return;
    frame += frames;
    frames = Math.min(frames * 2, 1024);
  }
}

/**
 * Finds commit frames in a WAL from their frame headers alone (24 bytes each, read with the
 * frames between them in one read): cheap enough to run right after every COMMIT, to learn when
 * each transaction committed, while `WalReader` reads and verifies the frames later in one pass. Frames are not verified here: a position
 * found here names a transaction only once `WalReader` returns one ending there.
 */
export class WalCommitScanner {
  #salt1 = 0;
  #salt2 = 0;
  #known = false;
  /** Frames of the current WAL scanned up to the last commit frame found. */
  #frame = 0;

  /** Continues after `position` (a commit frame already accounted for), if it is further on. */
  skipTo(position: WalPosition): void {
    const sameWal = this.#known && position.salt1 === this.#salt1 && position.salt2 === this.#salt2;
    if (sameWal && position.frame <= this.#frame) return;
    this.#known = true;
    this.#salt1 = position.salt1;
    this.#salt2 = position.salt2;
    this.#frame = position.frame;
  }

  /** Positions of the commit frames written since the last call, oldest first. */
  scan(readAt: ReadAt): WalPosition[] {
    const header = parseHeader(readAt(WAL_HEADER_SIZE, 0));
    if (header === undefined) return [];
    const { salt1, salt2 } = header;
    if (!this.#known || this.#salt1 !== salt1 || this.#salt2 !== salt2) {
      this.#known = true;
      this.#salt1 = salt1;
      this.#salt2 = salt2;
      this.#frame = 0;
    }
    const frameSize = FRAME_HEADER_SIZE + header.pageSize;
    const found: WalPosition[] = [];
    const start = this.#frame;
    let frame = start;
    // One read for the frames a commit usually writes (as many as the last one, and the next
    // frame's header, which ends the scan), rather than one per header; more if it goes on.
    let frames = this.#expect;
    for (;;) {
      const length = frames * frameSize + FRAME_HEADER_SIZE;
      const chunk = readAt(length, WAL_HEADER_SIZE + frame * frameSize);
      let at = 0;
      for (; at + FRAME_HEADER_SIZE <= chunk.length; at += frameSize) {
        if (chunk.readUInt32BE(at + 8) !== salt1 || chunk.readUInt32BE(at + 12) !== salt2) break;
        frame++;
        if (chunk.readUInt32BE(at + 4) === 0) continue;
        found.push({ salt1, salt2, frame });
        this.#frame = frame;
      }
      // Stopped at an invalid header, or at the end of the file: done. Else every header in
      // the chunk was valid, and the next one follows the last counted.
      if (at + FRAME_HEADER_SIZE <= chunk.length || chunk.length < length) break;
      frames = Math.min(frames * 2, 1024);
    }
    if (this.#frame > start) this.#expect = Math.min(this.#frame - start, 64);
    return found;
  }

  /** Frames the last commits found wrote: how many to read at once next time. */
  #expect = 1;
}

function parseHeader(bytes: Buffer): WalHeader | undefined {
  if (bytes.length < WAL_HEADER_SIZE) return undefined;
  const magic = bytes.readUInt32BE(0);
  if (magic !== MAGIC_LITTLE && magic !== MAGIC_BIG) return undefined;
  const bigEndian = magic === MAGIC_BIG;
  const sum = walChecksum(bytes.subarray(0, 24), bigEndian, [0, 0]);
  if (sum[0] !== bytes.readUInt32BE(24) || sum[1] !== bytes.readUInt32BE(28)) return undefined;
  // A copy of its own: the read is a view of a slab Buffer's pool shares (64 KiB in Node 26),
  // which a reader keeping the header for the WAL's life would pin, per object.
  const own = Buffer.allocUnsafeSlow(WAL_HEADER_SIZE);
  bytes.copy(own, 0, 0, WAL_HEADER_SIZE);
  return {
    bytes: own,
    bigEndian,
    pageSize: bytes.readUInt32BE(8) || 65536,
    salt1: bytes.readUInt32BE(16),
    salt2: bytes.readUInt32BE(20),
    checksum: sum,
  };
}

const NATIVE_BIG_ENDIAN = endianness() === "BE";

/**
 * SQLite's WAL checksum over `data` (a multiple of 8 bytes), continuing from `seed`; the words
 * are read in the byte order the WAL's magic names. Writes into `out` when given.
 */
export function walChecksum(
  data: Buffer,
  bigEndian: boolean,
  seed: readonly [number, number],
  out: [number, number] = [0, 0],
): [number, number] {
  let s0 = seed[0];
  let s1 = seed[1];
  if (bigEndian === NATIVE_BIG_ENDIAN && data.byteOffset % 4 === 0) {
    // The WAL's byte order is this machine's (as SQLite writes it here): whole words, about
    // twice as fast as a DataView over a page.
    const words = new Uint32Array(data.buffer, data.byteOffset, data.byteLength >>> 2);
    for (let i = 0; i < words.length; i += 2) {
      s0 = (s0 + words[i]! + s1) >>> 0;
      s1 = (s1 + words[i + 1]! + s0) >>> 0;
    }
  } else {
    const words = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const little = !bigEndian;
    for (let i = 0; i < data.byteLength; i += 8) {
      s0 = (s0 + words.getUint32(i, little) + s1) >>> 0;
      s1 = (s1 + words.getUint32(i + 4, little) + s0) >>> 0;
    }
  }
  out[0] = s0;
  out[1] = s1;
  return out;
}

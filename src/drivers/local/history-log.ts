import { closeSync, fstatSync, openSync } from "node:fs";
import { crc32 } from "node:zlib";
import { readAt } from "./read-at.ts";

/**
 * The records of an object's history file (`<id>.sqlite-history`), appended in commit order:
 *
 *   header (56 bytes): magic, total length, seq (f64), time (f64), kind, WAL salt-1, salt-2,
 *                      commit frame, database size in pages, page size, page count
 *   pages:             page count x (page number u32, page image)
 *   trailer (12 bytes): CRC-32 of everything before it, total length, magic
 *
 * The trailer lets the newest record be found from the end without reading the file; the CRC
 * tells a record torn by a crash from a whole one.
 */

/** A commit captured from the WAL, or a restore applied on a start. */
export type RecordKind = "commit" | "restore";

/** One record's fixed fields. */
export interface RecordHeader {
  /** Position of the state after this record (see `core/storage/bookmarks.ts`). */
  readonly seq: number;
  /** When it was committed, ms since the epoch (its capture time after a crash). */
  readonly time: number;
  readonly kind: RecordKind;
  /** The WAL position of its commit frame (zeros for a restore). */
  readonly salt1: number;
  readonly salt2: number;
  readonly frame: number;
  /** Database size in pages after it. */
  readonly dbSize: number;
  readonly pageSize: number;
  readonly pageCount: number;
}

/** A record's header and where it sits in the file. */
export interface LoggedRecord extends RecordHeader {
  readonly offset: number;
  readonly length: number;
}

const MAGIC = 0x53544852; // "STHR"
const TRAILER_MAGIC = 0x53544845; // "STHE"
export const RECORD_HEADER_SIZE = 56;
const TRAILER_SIZE = 12;

/** Encodes one record with its pages. */
export function encodeRecord(header: Omit<RecordHeader, "pageCount">, pages: Map<number, Buffer>) {
  const length = RECORD_HEADER_SIZE + pages.size * (4 + header.pageSize) + TRAILER_SIZE;
  const out = Buffer.allocUnsafe(length);
  out.writeUInt32BE(MAGIC, 0);
  out.writeUInt32BE(length, 4);
  out.writeDoubleBE(header.seq, 8);
  out.writeDoubleBE(header.time, 16);
  out.writeUInt32BE(header.kind === "restore" ? 1 : 0, 24);
  out.writeUInt32BE(header.salt1, 28);
  out.writeUInt32BE(header.salt2, 32);
  out.writeUInt32BE(header.frame, 36);
  out.writeUInt32BE(header.dbSize, 40);
  out.writeUInt32BE(header.pageSize, 44);
  out.writeUInt32BE(pages.size, 48);
  out.writeUInt32BE(0, 52);
  let at = RECORD_HEADER_SIZE;
  for (const [pgno, page] of pages) {
    out.writeUInt32BE(pgno, at);
    page.copy(out, at + 4);
    at += 4 + header.pageSize;
  }
  out.writeUInt32BE(crc32(out.subarray(0, at)), at);
  out.writeUInt32BE(length, at + 4);
  out.writeUInt32BE(TRAILER_MAGIC, at + 8);
  return out;
}

function decodeHeader(bytes: Buffer, offset: number): LoggedRecord | undefined {
  if (bytes.length < RECORD_HEADER_SIZE || bytes.readUInt32BE(0) !== MAGIC) return undefined;
  const pageSize = bytes.readUInt32BE(44);
  const pageCount = bytes.readUInt32BE(48);
  const length = bytes.readUInt32BE(4);
  if (length !== RECORD_HEADER_SIZE + pageCount * (4 + pageSize) + TRAILER_SIZE) return undefined;
  return {
    seq: bytes.readDoubleBE(8),
    time: bytes.readDoubleBE(16),
    kind: bytes.readUInt32BE(24) === 1 ? "restore" : "commit",
    salt1: bytes.readUInt32BE(28),
    salt2: bytes.readUInt32BE(32),
    frame: bytes.readUInt32BE(36),
    dbSize: bytes.readUInt32BE(40),
    pageSize,
    pageCount,
    offset,
    length,
  };
}

/** The record that ends at `end`, if whole (its CRC checked). */
function recordEndingAt(fd: number, end: number): LoggedRecord | undefined {
  if (end < RECORD_HEADER_SIZE + TRAILER_SIZE) return undefined;
  const trailer = readAt(fd, TRAILER_SIZE, end - TRAILER_SIZE);
  if (trailer.readUInt32BE(8) !== TRAILER_MAGIC) return undefined;
  const length = trailer.readUInt32BE(4);
  if (length > end) return undefined;
  return recordAt(fd, end - length, end);
}

/** The record at `offset`, if whole and inside `size`. */
function recordAt(fd: number, offset: number, size: number): LoggedRecord | undefined {
  const head = readAt(fd, RECORD_HEADER_SIZE, offset);
  const header = decodeHeader(head, offset);
  if (header === undefined || offset + header.length > size) return undefined;
  const whole = readAt(fd, header.length, offset);
  const crcAt = header.length - TRAILER_SIZE;
  if (whole.readUInt32BE(crcAt) !== crc32(whole.subarray(0, crcAt))) return undefined;
  return header;
}

/**
 * The newest whole record and the length of the file's valid prefix. Fast when the file ends
 * with a whole record (the usual case: one read from the end); after a crash that tore the last
 * append, scans from the start for the longest run of whole records.
 */
export function readTail(path: string): { last: LoggedRecord | undefined; validEnd: number } {
  const fd = openOrUndefined(path);
  if (fd === undefined) return { last: undefined, validEnd: 0 };
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return { last: undefined, validEnd: 0 };
    const last = recordEndingAt(fd, size);
    if (last !== undefined) return { last, validEnd: size };
    let end = 0;
    let found: LoggedRecord | undefined;
    for (const record of scan(fd, size)) {
      found = record;
      end = record.offset + record.length;
    }
    return { last: found, validEnd: end };
  } finally {
    closeSync(fd);
  }
}

/** Every whole record of the file, oldest first (stops at the first torn one). */
export function readAll(path: string): LoggedRecord[] {
  const fd = openOrUndefined(path);
  if (fd === undefined) return [];
  try {
    return [...scan(fd, fstatSync(fd).size)];
  } finally {
    closeSync(fd);
  }
}

function* scan(fd: number, size: number): Generator<LoggedRecord> {
  let offset = 0;
  while (offset < size) {
    const record = recordAt(fd, offset, size);
    if (record === undefined) return;
    yield record;
    offset += record.length;
  }
}

/** The pages of one record (page number -> image), read from the open file `fd`. */
export function readPages(fd: number, record: LoggedRecord): Map<number, Buffer> {
  const body = readAt(
    fd,
    record.pageCount * (4 + record.pageSize),
    record.offset + RECORD_HEADER_SIZE,
  );
  const pages = new Map<number, Buffer>();
  for (let at = 0; at < body.length; at += 4 + record.pageSize) {
    pages.set(body.readUInt32BE(at), body.subarray(at + 4, at + 4 + record.pageSize));
  }
  return pages;
}

function openOrUndefined(path: string): number | undefined {
  try {
    return openSync(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

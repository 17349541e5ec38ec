// The files of a history besides its log: the base image (`<id>.sqlite-history-base`, the
// database before the oldest record) and whole database images written for a restore.
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { RECORD_HEADER_SIZE } from "./history-log.ts";
import { readAt } from "./read-at.ts";
import { syncDirectory } from "./sqlite-file.ts";

/** A database image: page number -> page, and its size in pages. */
export interface Image {
  readonly pages: Map<number, Buffer>;
  dbSize: number;
  pageSize: number;
}

const BASE_MAGIC = 0x53544842; // "STHB"
const BASE_HEADER_SIZE = 32;

/** True when the file's second record is older than `cutoff` (one can be folded). */
export function secondRecordBefore(path: string, cutoff: number): boolean {
  if (!existsSync(path)) return false;
  const fd = openSync(path, "r");
  try {
    const first = readAt(fd, RECORD_HEADER_SIZE, 0);
    if (first.length < RECORD_HEADER_SIZE) return false;
    const second = readAt(fd, RECORD_HEADER_SIZE, first.readUInt32BE(4));
    return second.length === RECORD_HEADER_SIZE && second.readDoubleBE(16) < cutoff;
  } finally {
    closeSync(fd);
  }
}

/** The fixed fields of a base image, or undefined when there is none. */
export function readBaseHeader(path: string): { seq: number; time: number } | undefined {
  if (!existsSync(path)) return undefined;
  const fd = openSync(path, "r");
  try {
    const header = readAt(fd, BASE_HEADER_SIZE, 0);
    if (header.length < BASE_HEADER_SIZE || header.readUInt32BE(0) !== BASE_MAGIC) {
      throw new Error(`${path} is not a Stead history base image; restore it from a backup.`);
    }
    return { seq: header.readDoubleBE(8), time: header.readDoubleBE(16) };
  } finally {
    closeSync(fd);
  }
}

export function readBaseImage(path: string): Image {
  const image: Image = { pages: new Map(), dbSize: 0, pageSize: 4096 };
  if (!existsSync(path)) return image;
  const bytes = readFileSync(path);
  image.pageSize = bytes.readUInt32BE(24);
  image.dbSize = bytes.readUInt32BE(28);
  for (let pgno = 1; pgno <= image.dbSize; pgno++) {
    const at = BASE_HEADER_SIZE + (pgno - 1) * image.pageSize;
    image.pages.set(pgno, bytes.subarray(at, at + image.pageSize));
  }
  return image;
}

/** Writes a base image aside, syncs it and renames it into place. */
export function writeBase(path: string, image: Image, seq: number, time: number): void {
  const header = Buffer.alloc(BASE_HEADER_SIZE);
  header.writeUInt32BE(BASE_MAGIC, 0);
  header.writeDoubleBE(seq, 8);
  header.writeDoubleBE(time, 16);
  header.writeUInt32BE(image.pageSize, 24);
  header.writeUInt32BE(image.dbSize, 28);
  const temp = `${path}.tmp`;
  writePages(temp, image, header);
  renameSync(temp, path);
  syncDirectory(dirname(path));
}

/** Writes a database file holding exactly `image`, synced. */
export function writeImage(path: string, image: Image): void {
  writePages(path, image, undefined);
}

function writePages(path: string, image: Image, header: Buffer | undefined): void {
  const fd = openSync(path, "w", 0o600);
  try {
    let at = 0;
    if (header) at += writeSync(fd, header, 0, header.length, 0);
    const zeros = Buffer.alloc(image.pageSize);
    for (let pgno = 1; pgno <= image.dbSize; pgno++) {
      const page = image.pages.get(pgno) ?? zeros;
      at += writeSync(fd, page, 0, page.length, at);
    }
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A closed or quiet database file's pages (without its WAL). */
export function readDatabaseFile(path: string): Image {
  const bytes = readFileSync(path);
  const pageSize = bytes.length >= 18 ? bytes.readUInt16BE(16) : 4096;
  const size = pageSize === 1 ? 65536 : pageSize || 4096;
  const image: Image = {
    pages: new Map(),
    dbSize: Math.floor(bytes.length / size),
    pageSize: size,
  };
  for (let pgno = 1; pgno <= image.dbSize; pgno++) {
    image.pages.set(pgno, bytes.subarray((pgno - 1) * size, pgno * size));
  }
  return image;
}

export function fileSize(path: string): number {
  try {
    const fd = openSync(path, "r");
    try {
      return fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  } catch {
    return 0;
  }
}

export function truncate(path: string, length: number): void {
  const fd = openSync(path, "r+");
  try {
    ftruncateSync(fd, length);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

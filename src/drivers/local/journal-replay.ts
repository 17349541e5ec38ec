import {
  closeSync,
  constants,
  existsSync,
  fdatasyncSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { decodeSegmentHeader, readRecords, SEGMENT_HEADER_BYTES } from "./journal-format.ts";
import { recoverKeptWal, syncDirectory } from "./sqlite-file.ts";

/** What a replay did, for the start-up log line and tests. */
export interface JournalReplay {
  /** Segment files read (retired, zeroed ones included). */
  segments: number;
  /** Records written back into object WALs. */
  records: number;
  /** Objects whose WAL was written. */
  objects: number;
  /** Bytes of records read. */
  bytes: number;
  /** Wall time of the replay, ms. */
  ms: number;
}

/** A key is `<namespace>/<file>.sqlite`, one level under the data directory, nothing else. */
const KEY = /^[^/\\]+\/[^/\\]+\.sqlite$/;

/**
 * Writes every record of the node journals in `journalDir` back into the WAL of its object
 * (`<dataDir>/<key>-wal`), byte for byte where SQLite wrote the frames, so that opening the
 * object replays them; then syncs those WALs and removes the journal. Call before any object
 * opens (the driver's constructor), with the data-directory lock held.
 *
 * Each record holds the WAL header its frames were written under, so records of a WAL that
 * restarted later are superseded the way SQLite superseded them: the newer header's salts make
 * the older frames invalid. A reset record (a restore replaced the database file) truncates the
 * WAL, as the restore removed it. An object whose database file is gone (its namespace deleted)
 * is skipped. Segments are replayed in sequence order; a torn or zeroed tail ends a segment.
 *
 * Idempotent: a crash during replay leaves the journal in place, and the next start writes the
 * same bytes again.
 */
export function replayJournal(
  dataDir: string,
  journalDir: string,
  afterRecord?: (records: number) => void,
): JournalReplay {
  const started = performance.now();
  const report: JournalReplay = { segments: 0, records: 0, objects: 0, bytes: 0, ms: 0 };
  if (!existsSync(journalDir)) return report;
  const files = readdirSync(journalDir).filter((name) => name.endsWith(".journal"));
  if (files.length === 0) return report;
  const segments: Array<{ path: string; salt: number; sequence: bigint }> = [];
  for (const name of files) {
    const path = join(journalDir, name);
    report.segments++;
    const header = decodeSegmentHeader(readHeader(path));
    if (header === undefined) continue;
    segments.push({ path, ...header });
  }
  // Every journal of the previous process (one per object thread) in one order: each object's
  // records are all in one journal, whose segments are numbered in order.
  segments.sort((a, b) => {
    const prefix = (path: string) => path.slice(0, path.lastIndexOf(".", path.length - 9));
    const byName = prefix(a.path).localeCompare(prefix(b.path));
    return byName !== 0 ? byName : a.sequence < b.sequence ? -1 : a.sequence > b.sequence ? 1 : 0;
  });
  const wals = new Map<string, number | "missing">();
  const dirs = new Set<string>();
  try {
    // One segment in memory at a time (64 MiB by default).
    for (const segment of segments) {
      for (const record of readRecords(readFileSync(segment.path), segment.salt)) {
        report.bytes += record.frames === undefined ? 0 : record.frames.frames.length;
        const fd = walFor(dataDir, record.key, wals, dirs);
        if (fd === "missing") continue;
        report.records++;
        if (record.frames === undefined) {
          ftruncateSync(fd, 0);
        } else {
          const { header, firstFrame, frames, pageSize } = record.frames;
          writeAll(fd, header, 0);
          writeAll(fd, frames, 32 + firstFrame * (24 + pageSize));
        }
        afterRecord?.(report.records);
      }
    }
    for (const fd of wals.values()) if (fd !== "missing") fdatasyncSync(fd);
  } finally {
    for (const fd of wals.values()) if (fd !== "missing") closeSync(fd);
  }
  for (const dir of dirs) syncDirectory(dir);
  for (const name of files) unlinkSync(join(journalDir, name));
  syncDirectory(journalDir);
  report.objects = [...wals.values()].filter((fd) => fd !== "missing").length;
  report.ms = performance.now() - started;
  return report;
}

/** The object's WAL, opened (created if absent) for writing; "missing" when it has no database. */
function walFor(
  dataDir: string,
  key: string,
  wals: Map<string, number | "missing">,
  dirs: Set<string>,
): number | "missing" {
  const known = wals.get(key);
  if (known !== undefined) return known;
  const path = join(dataDir, key);
  if (!KEY.test(key) || !existsSync(path)) {
    wals.set(key, "missing");
    return "missing";
  }
  // A WAL a close kept aside is the one SQLite would replay: put it back, then write into it.
  recoverKeptWal(path);
  const wal = `${path}-wal`;
  if (!existsSync(wal)) dirs.add(dirname(path));
  const fd = openSync(wal, constants.O_RDWR | constants.O_CREAT, 0o600);
  wals.set(key, fd);
  return fd;
}

function readHeader(path: string): Buffer {
  const fd = openSync(path, "r");
  try {
    const bytes = Buffer.alloc(SEGMENT_HEADER_BYTES);
    const read = readSync(fd, bytes, 0, SEGMENT_HEADER_BYTES, 0);
    return bytes.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, bytes: Buffer, position: number): void {
  let written = 0;
  while (written < bytes.length) {
    written += writeSync(fd, bytes, written, bytes.length - written, position + written);
  }
}

import {
  closeSync,
  existsSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
  writevSync,
} from "node:fs";
import { dirname } from "node:path";
import { endOfGeneration, GENERATION_SPAN } from "../../core/storage/bookmarks.ts";
import {
  type ReadAt,
  WalCommitScanner,
  type WalPosition,
  WalReader,
  type WalTransaction,
} from "../sqlite-wal/wal-frames.ts";
import {
  fileSize,
  type Image,
  readBaseHeader,
  readBaseImage,
  readDatabaseFile,
  secondRecordBefore,
  truncate,
  writeBase,
  writeImage,
} from "./history-images.ts";
import {
  encodeRecord,
  type LoggedRecord,
  type RecordHeader,
  readAll,
  readPages,
  readTail,
} from "./history-log.ts";
import { readAt } from "./read-at.ts";
import { syncDirectory } from "./sqlite-file.ts";

/** What a history needs from its driver. */
export interface HistoryOptions {
  /** How long a replaced state stays restorable, ms. */
  readonly retentionMs: number;
  /** Epoch ms (the runtime's clock, so tests move time). */
  now(): number;
  /** History path -> when it was last trimmed (shared by the driver's handles). */
  readonly trimmedAt: Map<string, number>;
  /** Makes files created in `dir` so far durable, off the event loop (batched by the driver). */
  syncDirectory(dir: string): Promise<void>;
}

/** Records folded into the base per trimming pass. */
const MAX_FOLD = 4096;

/**
 * One object's history: `<id>.sqlite-history` (records of committed transactions, captured from
 * the WAL right after each COMMIT, see `history-log.ts`) over `<id>.sqlite-history-base` (the
 * database image before the oldest record; absent means the empty database at position 0).
 *
 * Durability is lazy: transactions wait in the WAL and reach the file when it is checkpointed
 * (`capture`, `writePending`, then `settle` beside the database file's sync) or the connection
 * closes. That is sound because the WAL still holds every frame whose record is not durable: the
 * driver lets the WAL restart only once `durable` is true, and on open `connected` recaptures
 * from the WAL whatever the file lacks, and drops records the WAL lost (a power loss can keep a
 * history write and lose the WAL's). So a commit's acknowledgement waits for one fdatasync, the
 * WAL's, as before.
 */
export class ObjectHistory {
  readonly logPath: string;
  readonly basePath: string;
  readonly markerPath: string;
  readonly #dbPath: string;
  readonly #options: HistoryOptions;
  #reader = new WalReader();
  /** Finds each commit's frame right after it (`note`), so the time it committed is known. */
  #scanner = new WalCommitScanner();
  /** Commits noted and not yet captured: their commit frames and times, oldest first. */
  #stamps: Array<WalPosition & { time: number }> = [];
  /** Encoded records not yet written to the file. */
  #pending: Buffer[] = [];
  /** Records were written since the file's last fdatasync. */
  #unsynced = false;
  /** Bumped by each write, so a settle knows whether a later write came meanwhile. */
  #writes = 0;
  /**
   * The history file, open from an append until a sync covered it (then closed, so an open object
   * holds no descriptor for history between checkpoints).
   */
  #fd: number | undefined;
  /** Off-loop fdatasyncs of `#fd` running. */
  #syncing = 0;
  /** `release` was called: close `#fd` once no sync runs on it, synced or not. */
  #released = false;
  /** Newest record (written or not): its position and time. Undefined until `connected`. */
  #last: { seq: number; time: number } | undefined;
  /** The history file's directory entry is known durable (synced since it was created). */
  #entry: "durable" | undefined;

  constructor(dbPath: string, options: HistoryOptions) {
    this.#dbPath = dbPath;
    this.logPath = `${dbPath}-history`;
    this.basePath = `${dbPath}-history-base`;
    this.markerPath = `${dbPath}-restore`;
    this.#options = options;
  }

  get retentionMs(): number {
    return this.#options.retentionMs;
  }

  /** Every captured record is in the file and synced: the WAL may restart. */
  get durable(): boolean {
    return this.#pending.length === 0 && !this.#unsynced;
  }

  /** The position of the newest state (after `connected`). */
  get newest(): number {
    return this.#last?.seq ?? 0;
  }

  /**
   * Call right after the connection opened (SQLite replayed its WAL): finds the newest record,
   * repairs a torn tail, drops records the WAL lost, and captures the WAL's transactions the
   * file lacks. For a database that existed before it had a history, writes the base image.
   */
  connected(readWal: ReadAt): void {
    const { last, validEnd } = readTail(this.logPath);
    const exists = existsSync(this.logPath);
    // A close may have left records unsynced (its WAL then stays aside, and was put back before
    // this open): sync the file, and its directory entry, before the WAL may restart.
    if (exists) {
      if (this.#entry !== "durable") this.#entry = undefined;
      this.#unsynced = true;
    }
    if (exists && fileSize(this.logPath) !== validEnd) truncate(this.logPath, validEnd);
    const base = readBaseHeader(this.basePath);
    let newest = last && last.seq > (base?.seq ?? -1) ? last : undefined;
    const fresh = new WalReader();
    const inWal = fresh.readCommitted(readWal);
    if (newest !== undefined && newest.kind === "commit") {
      // Records of this WAL past its valid end were lost from the WAL: drop them.
      const sameWal =
        inWal.length > 0 &&
        inWal[0]!.position.salt1 === newest.salt1 &&
        inWal[0]!.position.salt2 === newest.salt2;
      const walEnd = sameWal ? inWal[inWal.length - 1]!.position.frame : 0;
      if (sameWal && walEnd < newest.frame)
        newest = this.#dropAfter(newest.salt1, newest.salt2, walEnd);
    }
    // More than the header page SQLite writes when it switches a new file to WAL: a database
    // made before history was kept.
    if (
      newest === undefined &&
      base === undefined &&
      last === undefined &&
      fileSize(this.#dbPath) > 4096
    ) {
      this.#writeUpgradeBase(inWal);
      this.#last = { seq: 0, time: this.#options.now() };
      this.#reader = fresh;
      this.#scanner = new WalCommitScanner();
      this.#scanner.skipTo(fresh.position);
      this.#stamps = [];
      return;
    }
    this.#last = newest
      ? { seq: newest.seq, time: newest.time }
      : { seq: base?.seq ?? 0, time: base?.time ?? 0 };
    const resume = newest?.kind === "commit" ? newest : undefined;
    this.#reader = new WalReader(
      resume && { salt1: resume.salt1, salt2: resume.salt2, frame: resume.frame },
    );
    this.#scanner = new WalCommitScanner();
    this.#stamps = [];
    this.capture(readWal);
  }

  /**
   * Call right after each COMMIT: notes when the new transactions committed (reading only frame
   * headers). Their pages are read by the next `capture`.
   */
  note(readWal: ReadAt): void {
    const found = this.#scanner.scan(readWal);
    if (found.length === 0) return;
    const time = this.#options.now();
    for (const position of found) this.#stamps.push({ ...position, time });
  }

  /**
   * Captures the transactions committed since the last capture, reading and verifying their
   * frames in one pass: call before history must hold them (a checkpoint, a close, a read of
   * history), with the connection open.
   */
  capture(readWal: ReadAt): void {
    const transactions = this.#reader.readCommitted(readWal);
    for (const transaction of transactions) this.#append(transaction);
    this.#scanner.skipTo(this.#reader.position);
  }

  /** When the transaction ending at `position` committed, if `note` saw it; else now. */
  #timeOf(position: WalPosition): number {
    const stamps = this.#stamps;
    let used = 0;
    let time: number | undefined;
    for (const stamp of stamps) {
      const sameWal = stamp.salt1 === position.salt1 && stamp.salt2 === position.salt2;
      if (sameWal && stamp.frame > position.frame) break;
      used++;
      if (sameWal && stamp.frame === position.frame) {
        time = stamp.time;
        break;
      }
    }
    if (used > 0) stamps.splice(0, used);
    return time ?? this.#options.now();
  }

  #append(transaction: WalTransaction): void {
    const last = this.#last ?? { seq: 0, time: 0 };
    const seq = last.seq + 1;
    if (seq % GENERATION_SPAN === 0)
      throw new RangeError("internal: 2^32 commits since the last restore");
    const time = Math.max(this.#timeOf(transaction.position), last.time);
    const { salt1, salt2, frame } = transaction.position;
    const pageSize =
      transaction.pages.values().next().value?.length ?? this.#reader.pageSize ?? 4096;
    this.#pending.push(
      encodeRecord(
        { seq, time, kind: "commit", salt1, salt2, frame, dbSize: transaction.dbSize, pageSize },
        transaction.pages,
      ),
    );
    this.#last = { seq, time };
  }

  /**
   * Writes pending records to the file in one write, without syncing (on the event loop; page
   * cache only). The descriptor stays open for the sync that follows (`settle`, `settleNow`).
   */
  writePending(): void {
    if (this.#pending.length === 0) return;
    const records = this.#pending;
    this.#pending = [];
    // The first write of a new object's history (at its first checkpoint) creates the file; its
    // directory entry is synced with the file's data (`settle`, `settleNow`).
    if (this.#fd === undefined) this.#fd = openSync(this.logPath, "a", 0o600);
    this.#released = false;
    const fd = this.#fd;
    const length = records.reduce((sum, record) => sum + record.length, 0);
    let written = writevSync(fd, records);
    // A short write (rare: a full disk reports its error on the next call): the rest, in order.
    if (written < length) {
      const all = Buffer.concat(records);
      while (written < length) written += writeSync(fd, all, written, length - written);
    }
    this.#unsynced = true;
    this.#writes++;
  }

  /** Bytes of the current WAL's frames captured so far (its size, right after a capture). */
  get capturedWalBytes(): number {
    return this.#reader.position.frame * ((this.#reader.pageSize ?? 4096) + 24);
  }

  /** Makes every captured record durable, off the event loop. */
  async settle(): Promise<void> {
    this.writePending();
    if (!this.#unsynced) return;
    const writes = this.#writes;
    this.#fd ??= openSync(this.logPath, "a", 0o600);
    const fd = this.#fd;
    this.#syncing++;
    try {
      await Promise.all([
        new Promise<void>((resolve, reject) =>
          fdatasync(fd, (error) => (error ? reject(error) : resolve())),
        ),
        this.#entryDurable(),
      ]);
    } finally {
      this.#syncing--;
    }
    if (this.#writes === writes) this.#unsynced = false;
    this.#closeIfSynced();
  }

  /** Makes every captured record durable now, on the event loop (rare paths). */
  settleNow(): void {
    this.writePending();
    if (!this.#unsynced) return;
    // The file was created since its directory was last synced: do it here, as this cannot wait.
    if (this.#entry !== "durable") {
      syncDirectory(dirname(this.logPath));
      this.#entry = "durable";
    }
    this.#fd ??= openSync(this.logPath, "a", 0o600);
    fdatasyncSync(this.#fd);
    this.#unsynced = false;
    this.#closeIfSynced();
  }

  /** Closes the history file's descriptor, once the syncs running on it finish. */
  release(): void {
    this.#released = true;
    this.#closeIfSynced();
  }

  /** The file's directory entry is durable: known so, or synced here. */
  async #entryDurable(): Promise<void> {
    if (this.#entry === "durable") return;
    await this.#options.syncDirectory(dirname(this.logPath));
    if (this.#entry === undefined) this.#entry = "durable";
  }

  #closeIfSynced(): void {
    if (this.#syncing > 0) return;
    if (this.#released || (!this.#unsynced && this.#pending.length === 0)) this.#closeFd();
  }

  #closeFd(): void {
    const fd = this.#fd;
    if (fd === undefined) return;
    this.#fd = undefined;
    closeSync(fd);
  }

  /** The position of the state current at `time`, or "too-old" before the retention window. */
  positionAt(time: number): number | "too-old" {
    if (time < this.#options.now() - this.retentionMs) return "too-old";
    const { base, records } = this.#records();
    let position = base.seq;
    for (const record of records) {
      if (record.time > time) break;
      position = record.seq;
    }
    return position;
  }

  /** See `DatabaseHistory.check`. */
  check(position: number): "kept" | "too-old" | "unknown" {
    const newest = this.newest;
    if (position > endOfGeneration(newest)) return "unknown";
    const { base, records } = this.#records();
    if (position < base.seq) return "too-old";
    const next = records.find((record) => record.seq > position);
    if (next !== undefined && next.time < this.#options.now() - this.retentionMs) return "too-old";
    return "kept";
  }

  /** Durably records a restore to `position` for the next start. */
  recordRestore(position: number): void {
    const temp = `${this.markerPath}.tmp`;
    const fd = openSync(temp, "w", 0o600);
    try {
      writeSync(fd, String(position));
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.markerPath);
    syncDirectory(dirname(this.markerPath));
  }

  /** The position a recorded restore goes to, if one is pending. */
  pendingRestore(): number | undefined {
    if (!existsSync(this.markerPath)) return undefined;
    const position = Number(readFileSync(this.markerPath, "utf8"));
    return Number.isSafeInteger(position) ? position : undefined;
  }

  /**
   * Restores the closed database file to `position` (its connection must be closed and its
   * WAL empty): builds the image in a temporary file, syncs it, removes the (empty) WAL and
   * renames the image over the database, so a crash leaves one or the other whole. Then records
   * the restore as a new generation and removes the pending marker. Repeating it after a crash
   * is harmless: the target is the same, and the record is made against what history holds.
   */
  restore(position: number): void {
    this.writePending();
    const { base, records } = this.#records();
    const target = this.#image(
      base,
      records.filter((record) => record.seq <= position),
    );
    const before = this.#image(base, records);
    const temp = `${this.#dbPath}-restoring`;
    writeImage(temp, target);
    rmSync(`${this.#dbPath}-wal`, { force: true });
    rmSync(`${this.#dbPath}-wal.closing`, { force: true });
    renameSync(temp, this.#dbPath);
    syncDirectory(dirname(this.#dbPath));
    const changed = new Map<number, Buffer>();
    for (let pgno = 1; pgno <= target.dbSize; pgno++) {
      const page = target.pages.get(pgno) ?? Buffer.alloc(target.pageSize);
      const old = before.pages.get(pgno);
      if (old === undefined || !old.equals(page) || pgno > before.dbSize) changed.set(pgno, page);
    }
    const seq = (Math.floor(this.newest / GENERATION_SPAN) + 1) * GENERATION_SPAN;
    const time = Math.max(this.#options.now(), this.#last?.time ?? 0);
    const header = {
      seq,
      time,
      kind: "restore" as const,
      salt1: 0,
      salt2: 0,
      frame: 0,
      dbSize: target.dbSize,
      pageSize: target.pageSize,
    };
    this.#pending.push(encodeRecord(header, changed));
    this.#last = { seq, time };
    this.#reader = new WalReader();
    this.#scanner = new WalCommitScanner();
    this.#stamps = [];
    this.settleNow();
    rmSync(this.markerPath, { force: true });
    syncDirectory(dirname(this.markerPath));
  }

  /**
   * Folds records whose states were replaced before the retention window into the base image
   * and drops them from the file. At most once per `retentionMs / 10` (and per hour) per object;
   * a settle running postpones it. The new base is written aside and renamed into place before the
   * file is rewritten the same way, so a crash in between leaves records the base already holds,
   * which readers skip.
   */
  trimIfDue(): void {
    const now = this.#options.now();
    const trimmedAt = this.#options.trimmedAt;
    const last = trimmedAt.get(this.logPath) ?? Number.NEGATIVE_INFINITY;
    if (now - last < Math.min(this.retentionMs / 10, 3_600_000)) return;
    // A sync runs on the file's descriptor, which the rewrite below replaces: later.
    if (this.#syncing > 0) return;
    trimmedAt.set(this.logPath, now);
    this.writePending();
    // Cheap check first: nothing to fold unless the second record is older than the window.
    if (!secondRecordBefore(this.logPath, now - this.retentionMs)) return;
    const { base, records } = this.#records();
    const cutoff = now - this.retentionMs;
    let fold = 0;
    // Bounded work per pass: at most MAX_FOLD records (the rest wait for the next pass).
    while (fold + 1 < records.length && fold < MAX_FOLD && records[fold + 1]!.time < cutoff) fold++;
    if (fold === 0) return;
    const folded = records.slice(0, fold);
    const image = this.#image(base, folded);
    const newest = folded[folded.length - 1]!;
    writeBase(this.basePath, image, newest.seq, newest.time);
    const keep = records[fold]!;
    const temp = `${this.logPath}.tmp`;
    const from = openSync(this.logPath, "r");
    try {
      const rest = readAt(from, fstatSync(from).size - keep.offset, keep.offset);
      const fd = openSync(temp, "w", 0o600);
      try {
        writeSync(fd, rest);
        fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } finally {
      closeSync(from);
    }
    // Appends go to the new file from here: the old descriptor names the replaced one.
    this.#closeFd();
    renameSync(temp, this.logPath);
    syncDirectory(dirname(this.logPath));
    this.#unsynced = false;
  }

  /** The base header and the records after it (pending ones written first). */
  #records(): { base: { seq: number; time: number }; records: LoggedRecord[] } {
    this.writePending();
    const base = readBaseHeader(this.basePath) ?? { seq: 0, time: 0 };
    return { base, records: readAll(this.logPath).filter((record) => record.seq > base.seq) };
  }

  /** The base image with `records` applied, in order. */
  #image(base: { seq: number }, records: LoggedRecord[]): Image {
    const image = readBaseImage(this.basePath);
    if (records.length === 0) return image;
    const fd = openSync(this.logPath, "r");
    try {
      for (const record of records) {
        if (record.seq <= base.seq) continue;
        for (const [pgno, page] of readPages(fd, record)) image.pages.set(pgno, page);
        image.dbSize = record.dbSize;
        image.pageSize = record.pageSize;
        for (const pgno of image.pages.keys()) if (pgno > image.dbSize) image.pages.delete(pgno);
      }
    } finally {
      closeSync(fd);
    }
    return image;
  }

  /** Drops records of the WAL `salt1/salt2` past `frame`; returns the newest one kept. */
  #dropAfter(salt1: number, salt2: number, frame: number): LoggedRecord | undefined {
    const records = readAll(this.logPath);
    const cut = records.findIndex(
      (r) => r.kind === "commit" && r.salt1 === salt1 && r.salt2 === salt2 && r.frame > frame,
    );
    if (cut < 0) return records[records.length - 1];
    truncate(this.logPath, records[cut]!.offset);
    return cut > 0 ? records[cut - 1] : undefined;
  }

  /** A database made before history was kept: its current image becomes the base. */
  #writeUpgradeBase(inWal: WalTransaction[]): void {
    const image = readDatabaseFile(this.#dbPath);
    for (const transaction of inWal) {
      for (const [pgno, page] of transaction.pages) image.pages.set(pgno, page);
      image.dbSize = transaction.dbSize;
      image.pageSize = transaction.pages.values().next().value?.length ?? image.pageSize;
    }
    writeBase(this.basePath, image, 0, this.#options.now());
  }
}

export type { RecordHeader };

import { randomInt } from "node:crypto";
import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  openSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeSync,
  writevSync,
} from "node:fs";
import { join } from "node:path";
import type { WalFrames } from "../sqlite-wal/wal-frames.ts";
import {
  encodeFramesRecord,
  encodeResetRecord,
  encodeSegmentHeader,
  type JournalFrames,
  journalFrames,
  recordLength,
  SEGMENT_HEADER_BYTES,
} from "./journal-format.ts";
import { makePrivateDir } from "./private-files.ts";
import { syncDirectory } from "./sqlite-file.ts";

/** What a `NodeJournal` is told when it opens. */
export interface NodeJournalOptions {
  /** The journal's directory (`<dataDir>/journal`); replayed and emptied before this opens. */
  dir: string;
  /** This journal's file prefix, unique among the journals writing `dir` at once. */
  name: string;
  /** A segment past this size is retired once the objects with records in it are settled. */
  segmentBytes: number;
  /**
   * Makes the objects' own files (database, WAL) hold durably everything committed to them so
   * far, by their keys. The journal may forget their records once it resolves.
   */
  settle(keys: readonly string[]): Promise<void>;
}

interface Segment {
  readonly path: string;
  fd: number;
  salt: number;
  readonly sequence: bigint;
  /** Where the next record goes. */
  offset: number;
  /** Bytes of the file known written (zeros ahead of `offset`, or a recycled segment's size). */
  allocated: number;
  /** Keys of the objects with records in the segment. */
  readonly keys: Set<string>;
  /** Its syncs running now (its descriptor stays open until they end). */
  syncing: number;
}

/** A batch of appended records waiting for the sync that will cover them. */
interface Batch {
  readonly records: Array<{ key: string; frames: JournalFrames | undefined }>;
  bytes: number;
  readonly keys: Set<string>;
  readonly done: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

const ZEROS = Buffer.alloc(1024 * 1024);
/**
 * Syncs running at once. A second one starts while the first waits for the disk, so the batch
 * written meanwhile does not wait for the first to come back before its own sync is issued; an
 * fdatasync covers every write made before it, so batches resolve in order either way.
 */
const MAX_SYNCS = 2;
/**
 * Retired segments whose objects are still being settled, at most. A batch that would retire one
 * more waits for the oldest to finish (commits slow down to the pace of settling), which bounds
 * the journal, and so the replay after a crash, to about this many segments plus one.
 */
const MAX_RETIRING = 2;
/** Retired segment files kept for reuse (a reused file needs no zero-filling and no new directory entry). */
const SPARE_SEGMENTS = 2;

/**
 * One append-only log of object commits per driver (the node journal). After each object
 * COMMIT, the handle appends the transaction's WAL frames here (`append`); one `fdatasync` of
 * the journal makes every record appended before it durable, whatever object it is for: group
 * commit across objects. Object files are not synced per commit; after a crash the journal is
 * replayed into their WALs before anything opens them (`replayJournal`).
 *
 * The journal is a chain of segment files. Records go to the newest; one that grows past
 * `segmentBytes` is retired: the driver settles every object with records in it (their own files
 * made durable), then the segment is invalidated (header zeroed and synced) and kept for reuse.
 * At most `MAX_RETIRING` segments settle at once, so the journal, and a replay, stay within about
 * three segments.
 *
 * A sync starts on the event loop's next turn after a record is appended (so every commit of
 * the turn shares it), at most `MAX_SYNCS` at a time on the thread pool; records appended while
 * they run wait for the next. Writes are synchronous (page cache only) and come just before the
 * sync that covers them.
 */
export class NodeJournal {
  readonly #options: NodeJournalOptions;
  #segment: Segment;
  #nextSequence: bigint;
  #batch: Batch | undefined;
  /** Syncs running now. */
  #syncing = 0;
  /** Batches written and being synced, oldest first, each with its number. */
  readonly #unresolved: Array<{ number: number; batch: Batch }> = [];
  #written = 0;
  #scheduled = false;
  /** Segments waiting to be settled and invalidated, oldest first. */
  readonly #retiring: Segment[] = [];
  #settling = false;
  readonly #spares: string[] = [];
  #closed = false;
  /** The first error of a sync: every later append rejects with it (durability is unknown). */
  #failure: unknown;
  /** For status and tests. */
  readonly stats = { syncs: 0, records: 0, bytes: 0, retired: 0, syncMs: 0 };

  constructor(options: NodeJournalOptions) {
    this.#options = options;
    this.#nextSequence = 1n;
    this.#segment = this.#openSegment();
  }

  /** Bytes of records the journal holds now (its segments not yet retired). */
  get size(): number {
    let size = this.#segment.offset;
    for (const segment of this.#retiring) size += segment.offset;
    return size;
  }

  /** No record is waiting for a sync. */
  get idle(): boolean {
    return this.#batch === undefined && this.#syncing === 0;
  }

  /** Appends one object's newly committed frames; resolves once the record is durable. */
  append(key: string, frames: WalFrames): Promise<void> {
    return this.#add(key, journalFrames(frames));
  }

  /**
   * Records that the object's WAL was removed and its database file replaced (a restore), and
   * makes that durable before returning: replay must not write the WAL it had before.
   */
  resetNow(key: string): void {
    void this.#add(key, undefined).catch(ignore);
    this.syncNow();
  }

  /** Writes and syncs every waiting record now, on the event loop (rare paths only). */
  syncNow(): void {
    if (this.#failure !== undefined) throw this.#failure;
    const batch = this.#batch;
    if (batch === undefined) return;
    this.#batch = undefined;
    try {
      fdatasyncSync(this.#write(batch).fd);
    } catch (error) {
      this.#fail(error);
      batch.reject(error);
      throw error;
    }
    this.stats.syncs++;
    batch.resolve();
  }

  /**
   * Stops the journal once the caller has made every object's files durable itself (a clean
   * close): its files are removed and the removal synced, so no later start replays them.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#syncing > 0 || this.#batch !== undefined || this.#settling) {
      await nextTurn();
      if (this.#syncing === 0 && this.#batch !== undefined) this.#startSync();
    }
    // Whatever path left an object's files short of its last commits (a close that could not
    // sync), settling every object the journal still covers makes them whole before it goes.
    const keys = new Set(this.#segment.keys);
    for (const segment of this.#retiring) for (const key of segment.keys) keys.add(key);
    await this.#options.settle([...keys]);
    closeSync(this.#segment.fd);
    for (const segment of this.#retiring) closeSync(segment.fd);
    for (const name of readdirSync(this.#options.dir)) {
      if (name.startsWith(`${this.#options.name}.`)) unlinkSync(join(this.#options.dir, name));
    }
    syncDirectory(this.#options.dir);
  }

  #add(key: string, frames: JournalFrames | undefined): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.reject(new Error("The node journal is closed."));
    let batch = this.#batch;
    if (batch === undefined) {
      let resolve!: () => void;
      let reject!: (error: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      batch = { records: [], bytes: 0, keys: new Set(), done, resolve, reject };
      this.#batch = batch;
    }
    batch.records.push({ key, frames });
    batch.bytes += recordLength(key, frames);
    batch.keys.add(key);
    this.stats.records++;
    // The next turn, not now: the flushes of every commit this turn join one sync.
    if (this.#syncing < MAX_SYNCS) this.#schedule();
    return batch.done;
  }

  #startSync(): void {
    const batch = this.#batch;
    if (batch === undefined) return;
    // Started again by `#settleRetiring` once the oldest retired segment is settled.
    if (this.#retiring.length >= MAX_RETIRING && this.#wouldRetire(batch)) return;
    this.#batch = undefined;
    let segment: Segment;
    try {
      segment = this.#write(batch);
    } catch (error) {
      this.#fail(error);
      batch.reject(error);
      return;
    }
    const number = ++this.#written;
    this.#unresolved.push({ number, batch });
    this.#syncing++;
    segment.syncing++;
    const started = performance.now();
    fdatasync(segment.fd, (error) => {
      this.#syncing--;
      segment.syncing--;
      this.stats.syncMs += performance.now() - started;
      if (error) {
        this.#fail(error);
        for (const { batch } of this.#unresolved.splice(0)) batch.reject(error);
      } else {
        this.stats.syncs++;
        // Everything written before this sync started is durable: this batch and earlier ones.
        while (this.#unresolved.length > 0 && this.#unresolved[0]!.number <= number) {
          this.#unresolved.shift()!.batch.resolve();
        }
      }
      // Not at once: the commits that waited for this sync come back on this turn with their
      // next commits, which should share the next sync rather than wait for a second one.
      if (this.#batch !== undefined && !this.#closed) this.#schedule();
    });
  }

  /** Starts a sync of the waiting records on the event loop's next turn (see `#add`). */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#syncing < MAX_SYNCS) this.#startSync();
    });
  }

  /**
   * Writes a batch at the end of the current segment, retiring it first when the batch would
   * take it past its size. Records are sealed here, with the salt of the segment they go to.
   */
  #wouldRetire(batch: Batch): boolean {
    const segment = this.#segment;
    return (
      segment.offset > SEGMENT_HEADER_BYTES &&
      segment.offset + batch.bytes > this.#options.segmentBytes
    );
  }

  #write(batch: Batch): Segment {
    let segment = this.#segment;
    if (this.#wouldRetire(batch)) {
      this.#retire(segment);
      segment = this.#segment = this.#openSegment();
    }
    const buffers: Buffer[] = [];
    for (const { key, frames } of batch.records) {
      if (frames === undefined) buffers.push(...encodeResetRecord(segment.salt, key));
      else buffers.push(...encodeFramesRecord(segment.salt, key, frames));
    }
    this.#allocate(segment, segment.offset + batch.bytes);
    let written = 0;
    while (written < batch.bytes) {
      written += writevSync(segment.fd, remaining(buffers, written), segment.offset + written);
    }
    segment.offset += batch.bytes;
    for (const key of batch.keys) segment.keys.add(key);
    this.stats.bytes += batch.bytes;
    return segment;
  }

  /**
   * Zeros ahead of the end of a new segment, so its fdatasyncs mostly overwrite blocks the file
   * has (a sync after an append must also commit the file's size: about twice the cost).
   */
  #allocate(segment: Segment, end: number): void {
    if (end <= segment.allocated) return;
    // Steps of 1 to 8 MiB, doubling: one sync in a thousand or so commits pays for the new size.
    const step = Math.min(Math.max(segment.allocated, ZEROS.length), 8 * ZEROS.length);
    const target = Math.max(end, Math.min(segment.allocated + step, this.#options.segmentBytes));
    while (segment.allocated < target) {
      const length = Math.min(ZEROS.length, target - segment.allocated);
      segment.allocated += writeSync(segment.fd, ZEROS, 0, length, segment.allocated);
    }
  }

  #openSegment(): Segment {
    const sequence = this.#nextSequence++;
    const path = join(this.#options.dir, `${this.#options.name}.${sequence}.journal`);
    const spare = this.#spares.shift();
    let allocated = SEGMENT_HEADER_BYTES;
    if (spare !== undefined) {
      renameSync(spare, path);
      allocated = this.#options.segmentBytes;
    } else {
      makePrivateDir(this.#options.dir);
    }
    const fd = openSync(path, spare === undefined ? "wx+" : "r+", 0o600);
    const salt = randomInt(1, 2 ** 32 - 1);
    writeSync(fd, encodeSegmentHeader({ salt, sequence }), 0, SEGMENT_HEADER_BYTES, 0);
    if (spare === undefined) {
      // A new file: its directory entry must be durable before a record in it is acknowledged.
      // Rare (the journal reuses its retired segments), so blocking.
      fdatasyncSync(fd);
      syncDirectory(this.#options.dir);
    }
    return {
      path,
      fd,
      salt,
      sequence,
      offset: SEGMENT_HEADER_BYTES,
      allocated,
      keys: new Set(),
      syncing: 0,
    };
  }

  #retire(segment: Segment): void {
    this.#retiring.push(segment);
    if (!this.#settling) void this.#settleRetiring();
  }

  /** Settles retired segments' objects, oldest segment first, then invalidates each segment. */
  async #settleRetiring(): Promise<void> {
    this.#settling = true;
    try {
      while (this.#retiring.length > 0) {
        const segment = this.#retiring[0]!;
        await this.#options.settle([...segment.keys]);
        while (segment.syncing > 0) await nextTurn();
        // Zeroed and synced before it can be forgotten: replaying its records after a later
        // segment's would take objects back.
        writeSync(segment.fd, ZEROS, 0, SEGMENT_HEADER_BYTES, 0);
        await new Promise<void>((resolve, reject) =>
          fdatasync(segment.fd, (error) => (error ? reject(error) : resolve())),
        );
        closeSync(segment.fd);
        this.#retiring.shift();
        this.stats.retired++;
        if (this.#batch !== undefined && !this.#closed) this.#schedule();
        if (this.#spares.length < SPARE_SEGMENTS && !this.#closed) this.#spares.push(segment.path);
        else unlinkSync(segment.path);
      }
    } catch (error) {
      // An object file that cannot be synced: the disk fails. The segment stays (replay reads
      // it); the journal stops acknowledging, so objects reset rather than wait forever.
      this.#fail(error);
      const batch = this.#batch;
      this.#batch = undefined;
      batch?.reject(error);
    } finally {
      this.#settling = false;
    }
  }

  #fail(error: unknown): void {
    this.#failure ??= error;
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function remaining(buffers: Buffer[], skip: number): Buffer[] {
  if (skip === 0) return buffers;
  const rest: Buffer[] = [];
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length;
      continue;
    }
    rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
    skip = 0;
  }
  return rest;
}

function ignore(): void {}

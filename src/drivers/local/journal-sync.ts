import { type ReadAt, WalReader } from "../sqlite-wal/wal-frames.ts";
import type { NodeJournal } from "./node-journal.ts";

/**
 * How a handle makes its commits durable: the WAL's own `FileSync`, or `JournalSync` through the
 * node journal. `LocalDatabaseHandle` uses only these members.
 */
export interface CommitSync {
  /**
   * Call right after COMMIT. Resolves, in call order, once every transaction committed before
   * the call is durable and `before` finished.
   */
  sync(before?: () => void | Promise<void>): Promise<void>;
  /** No sync is running or waiting: every committed frame is durable. */
  readonly idle: boolean;
  /** Makes every committed frame durable now, on the event loop (rare paths only). */
  syncNow(): void;
}

/**
 * One object's commits made durable by the node journal. `sync` reads the frames committed since
 * the last call out of the WAL (`WalReader`, the capture the PostgreSQL driver ships too) and
 * appends them as one record; the journal's next fdatasync, shared with every other object's
 * records, acknowledges them. The WAL itself is never synced here.
 */
export class JournalSync implements CommitSync {
  readonly #journal: NodeJournal;
  readonly #key: string;
  readonly #readWal: ReadAt;
  readonly #reader = new WalReader();
  #inflight: Promise<void> | undefined;
  #queued: Promise<void> | undefined;

  /**
   * `key`: the object's database relative to the data directory. The frames the WAL already
   * holds are durable (an earlier connection journaled them, a replay or a retirement synced the
   * WAL): reading starts after them.
   */
  constructor(journal: NodeJournal, key: string, readWal: ReadAt) {
    this.#journal = journal;
    this.#key = key;
    this.#readWal = readWal;
    this.#reader.readCommittedFrames(readWal);
  }

  get idle(): boolean {
    return this.#inflight === undefined && this.#queued === undefined;
  }

  /**
   * As `FileSync.sync`: one sync of this object at a time, and the calls made while it runs share
   * the next one, which reads their frames when it starts (one record for all of them).
   */
  sync(before?: () => void | Promise<void>): Promise<void> {
    if (this.#queued) return this.#queued;
    if (!this.#inflight) return this.#start(before);
    const queued = this.#inflight.then(ignore, ignore).then(() => {
      this.#queued = undefined;
      return this.#start(before);
    });
    this.#queued = queued;
    return queued;
  }

  #start(before: (() => void | Promise<void>) | undefined): Promise<void> {
    let durable: Promise<void> | undefined;
    try {
      const frames = this.#reader.readCommittedFrames(this.#readWal);
      if (frames !== undefined) durable = this.#journal.append(this.#key, frames);
    } catch (error) {
      return Promise.reject(error);
    }
    const run = Promise.all([before?.(), durable]).then(ignore);
    this.#inflight = run;
    const done = () => {
      if (this.#inflight === run) this.#inflight = undefined;
    };
    run.then(done, done);
    return run;
  }

  syncNow(): void {
    const frames = this.#reader.readCommittedFrames(this.#readWal);
    if (frames !== undefined) void this.#journal.append(this.#key, frames).catch(ignore);
    this.#journal.syncNow();
  }

  /**
   * Appends what the WAL committed since the last sync without waiting for it (a closing
   * connection whose last commits were not flushed), so the journal covers every frame the
   * close checkpoints into the database file.
   */
  captureRest(): void {
    const frames = this.#reader.readCommittedFrames(this.#readWal);
    if (frames !== undefined) void this.#journal.append(this.#key, frames).catch(ignore);
  }

  /** The object's WAL was removed and its file replaced (a restore): see `NodeJournal.resetNow`. */
  reset(): void {
    this.#journal.resetNow(this.#key);
  }
}

function ignore(): void {}

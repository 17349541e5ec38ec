import { type ReadAt, WalReader } from "../sqlite-wal/wal-frames.ts";
import type { NodeJournal } from "./node-journal.ts";
import { SerialSyncs } from "./serial-syncs.ts";

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
  readonly #syncs = new SerialSyncs();

  /**
   * Frames the WAL held when the object first opened in this process, journaled again: they may
   * not be durable (a commit the last process made and never journaled before it was killed is
   * still valid in the page cache), and later commits' frames follow them in the same WAL, so a
   * commit acknowledged here must not depend on them surviving a power loss by chance. Every
   * sync waits for this record too.
   */
  readonly #opened: Promise<void> | undefined;

  /** `key`: the object's database relative to the data directory. */
  constructor(journal: NodeJournal, key: string, readWal: ReadAt) {
    this.#journal = journal;
    this.#key = key;
    this.#readWal = readWal;
    const frames = this.#reader.readCommittedFrames(readWal);
    this.#opened = frames === undefined ? undefined : journal.append(key, frames);
    // Observed by every sync; unobserved here, a failure must not be an unhandled rejection.
    this.#opened?.catch(ignore);
  }

  get idle(): boolean {
    return this.#syncs.idle;
  }

  /**
   * As `FileSync.sync`: one sync of this object at a time, and the calls made while it runs share
   * the next one, which reads their frames when it starts (one record for all of them).
   */
  sync(before?: () => void | Promise<void>): Promise<void> {
    return this.#syncs.request(() => {
      const frames = this.#reader.readCommittedFrames(this.#readWal);
      const durable = frames === undefined ? undefined : this.#journal.append(this.#key, frames);
      return Promise.all([before?.(), durable, this.#opened]).then(ignore);
    });
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

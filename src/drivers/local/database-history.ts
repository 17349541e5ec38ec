import { endOfGeneration } from "../../core/storage/bookmarks.ts";
import type { DatabaseHistory } from "../../core/storage/driver.ts";
import type { LocalDatabaseHandle } from "./database-handle.ts";
import type { ObjectHistory } from "./object-history.ts";

/**
 * The local driver's `DatabaseHistory`: one object's history files (`ObjectHistory`), reached
 * through its handle so the connection is open (and the WAL captured) whenever history is read.
 */
export class LocalDatabaseHistory implements DatabaseHistory {
  readonly #handle: LocalDatabaseHandle;
  readonly #history: ObjectHistory;

  constructor(handle: LocalDatabaseHandle, history: ObjectHistory) {
    this.#handle = handle;
    this.#history = history;
  }

  get retentionMs(): number {
    return this.#history.retentionMs;
  }

  async currentPosition(): Promise<number> {
    this.#open();
    return this.#history.newest;
  }

  async positionAt(time: number): Promise<number | "too-old"> {
    this.#open();
    return this.#history.positionAt(time);
  }

  async check(position: number): Promise<"kept" | "too-old" | "unknown"> {
    this.#open();
    return this.#history.check(position);
  }

  async restoreOnNextStart(position: number): Promise<number> {
    this.#open();
    const state = this.#history.check(position);
    if (state !== "kept") throw new RangeError(`internal: position ${position} is ${state}`);
    this.#history.recordRestore(position);
    return endOfGeneration(this.#history.newest);
  }

  applyPendingRestore(): void {
    const position = this.#history.pendingRestore();
    if (position === undefined) return;
    this.#handle.restoreFromHistory(position);
  }

  /** Opens the connection and brings history up to date with the WAL. */
  #open(): void {
    this.#handle.captureHistory();
  }
}

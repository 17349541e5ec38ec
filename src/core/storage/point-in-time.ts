import { SteadError } from "../errors.ts";
import { formatBookmark, nextIssue, parseBookmark } from "./bookmarks.ts";
import type { DatabaseHistory } from "./driver.ts";
import type { StorageBackend } from "./kv-limits.ts";
import type { ObjectDatabase } from "./object-database.ts";
import type { Transactions } from "./transactions.ts";

/** workerd's text for a storage back-end without point-in-time recovery (KV-backed classes). */
export const PITR_NOT_IMPLEMENTED =
  "This Durable Object's storage back-end does not implement point-in-time recovery.";

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The point-in-time-recovery calls of `ctx.storage`, over the driver's `DatabaseHistory`.
 * Bookmarks are formatted here (`bookmarks.ts`); the driver deals in positions.
 */
export class PointInTime {
  readonly #db: ObjectDatabase;
  readonly #tx: Transactions;
  readonly #backend: StorageBackend;
  readonly #objectKey: string;

  constructor(db: ObjectDatabase, tx: Transactions, backend: StorageBackend, objectKey: string) {
    this.#db = db;
    this.#tx = tx;
    this.#backend = backend;
    this.#objectKey = objectKey;
  }

  /** A bookmark of the state after every write made so far (they are committed first). */
  async getCurrentBookmark(): Promise<string> {
    const history = this.#history();
    await this.#tx.sync();
    return formatBookmark(await history.currentPosition(), this.#objectKey, nextIssue());
  }

  /** A bookmark of the state current at `timestamp`, within the retention window. */
  async getBookmarkForTime(timestamp: unknown): Promise<string> {
    const history = this.#history();
    const time = toTime(timestamp);
    await this.#tx.sync();
    const position = await history.positionAt(time);
    if (position === "too-old") throw expired(history, `time ${new Date(time).toISOString()}`);
    return formatBookmark(position, this.#objectKey);
  }

  /**
   * Makes the next start of this object restore `bookmark`; resolves to a bookmark of the state
   * just before that restore. Refuses a bad or too-old bookmark, changing nothing.
   */
  async onNextSessionRestoreBookmark(bookmark: unknown): Promise<string> {
    const history = this.#history();
    const position = parseBookmark(bookmark, this.#objectKey);
    if (position === undefined) throw invalid(bookmark, "is not a bookmark of this Durable Object");
    await this.#tx.sync();
    const state = await history.check(position);
    if (state === "unknown") throw invalid(bookmark, "names no state this Durable Object has had");
    if (state === "too-old") throw expired(history, `bookmark ${String(bookmark)}`);
    const before = await history.restoreOnNextStart(position);
    return formatBookmark(before, this.#objectKey);
  }

  #history(): DatabaseHistory {
    this.#tx.check();
    if (this.#backend === "kv") throw new Error(PITR_NOT_IMPLEMENTED);
    const history = this.#db.handle.history;
    if (history === undefined) {
      throw new SteadError(
        "POINT_IN_TIME_UNAVAILABLE",
        `${PITR_NOT_IMPLEMENTED} The storage driver keeps no history of object databases: turn history on (a retention above 0: historyRetentionDays, --history-retention-days or STEAD_HISTORY_RETENTION_DAYS) or use a driver that keeps history.`,
        { remote: true },
      );
    }
    return history;
  }
}

function toTime(timestamp: unknown): number {
  const time =
    timestamp instanceof Date
      ? timestamp.getTime()
      : typeof timestamp === "number"
        ? timestamp
        : NaN;
  if (Number.isNaN(time)) {
    throw new TypeError(
      "Failed to execute 'getBookmarkForTime' on 'DurableObjectStorage': parameter 1 is not of type 'Date'.",
    );
  }
  return time;
}

function invalid(bookmark: unknown, why: string): SteadError {
  const shown = typeof bookmark === "string" ? JSON.stringify(bookmark) : String(bookmark);
  return new SteadError(
    "BOOKMARK_INVALID",
    `Invalid bookmark ${shown}: it ${why}. Nothing was changed. Pass a bookmark returned by getCurrentBookmark(), getBookmarkForTime() or onNextSessionRestoreBookmark() of this object.`,
    { remote: true },
  );
}

function expired(history: DatabaseHistory, what: string): SteadError {
  const days = history.retentionMs / DAY_MS;
  return new SteadError(
    "BOOKMARK_EXPIRED",
    `The ${what} is older than the ${Number.isInteger(days) ? `${days} days` : `${history.retentionMs} ms`} of history this Durable Object keeps, so it cannot be restored. Nothing was changed. Choose a later point, or keep history longer (historyRetentionDays / STEAD_HISTORY_RETENTION_DAYS).`,
    { remote: true },
  );
}

import type { CloseFinish } from "./close-queue.ts";
import type { ObjectHistory } from "./object-history.ts";
import type { closeSqliteFile } from "./sqlite-file.ts";

/** The rest of a close as `closeSqliteFile` returns it: `recycle` false keeps the WAL aside. */
type SqliteCloseRest = NonNullable<ReturnType<typeof closeSqliteFile>>;

/**
 * A close whose WAL holds at most this many bytes of frames keeps it aside instead of syncing
 * history (see `closeWithHistory`): a cold object's close then costs no history sync. The WAL
 * grows across such closes (it restarts only after a checkpoint), so a larger one is settled.
 */
const LAZY_CLOSE_BYTES = 64 * 1024;

/**
 * The rest of a connection's close (`rest`, from `closeSqliteFile`; undefined when the WAL could
 * not be kept aside), put in order behind what the object's history needs, and the history
 * released. Before this runs, the close wrote history the WAL's last transactions (or failed to:
 * `historyError`). Returns what the driver finishes later, one close at a time:
 * - history failed: nothing; the kept WAL is never recycled, so the next open puts it back and
 *   history captures its frames then (`recoverKeptWal`);
 * - `evicted` (the open-database budget closed a cold object) with a small WAL: the WAL is kept
 *   aside unrecycled and history left unsynced; the next open puts the WAL back, and a crash
 *   before then recaptures from it whatever history lost;
 * - otherwise: history is synced, then the kept WAL recycled (history then holds its frames).
 */
export function closeWithHistory(
  rest: SqliteCloseRest | undefined,
  history: ObjectHistory | undefined,
  historyError: unknown,
  evicted: boolean,
): CloseFinish | undefined {
  if (history === undefined) return rest;
  if (historyError !== undefined) {
    history.release();
    return undefined;
  }
  if (rest === undefined) {
    if (!history.durable) history.settleNow();
    history.release();
    return undefined;
  }
  if (evicted && !history.durable && history.capturedWalBytes <= LAZY_CLOSE_BYTES) {
    history.release();
    return (stillClosed: () => boolean) => rest(stillClosed, false);
  }
  return async (stillClosed: () => boolean) => {
    await history.settle().catch(ignore);
    if (!history.durable) {
      history.release();
      return;
    }
    try {
      history.trimIfDue();
    } catch {
      // Trimming only saves space; tried again on a later checkpoint or close.
    }
    history.release();
    await rest(stillClosed);
  };
}

function ignore(): void {}

import { type Deferred, deferred } from "../deferred.ts";
import { errorMessage } from "../error-text.ts";
import { SteadError } from "../errors.ts";
import type { OutputGate } from "../gates/output-gate.ts";
import type { HistogramCounts } from "../metrics/histogram-counts.ts";
import type { ObjectDatabase } from "./object-database.ts";
import { isCriticalSqliteError, sqlError } from "./sql-errors.ts";

/** workerd's text when `transactionSync()`'s closure returns after a critical SQL error. */
export const CRITICAL_COMMIT_MESSAGE =
  "Cannot commit transaction due to an earlier SQL critical error";

/** Savepoint names: the prefix and the depth. */
const SAVEPOINT_PREFIX = "_cf_savepoint_";

interface OpenTransaction {
  readonly durable: Deferred<void>;
  /** Keeps the connection open until COMMIT or ROLLBACK. */
  readonly release: () => void;
  /** Some write in it must hold outputs (not every write was `allowUnconfirmed`). */
  gated: boolean;
}

/** Work the storage layer does around a commit (keeping the alarm index in step). */
export interface CommitHooks {
  /** Runs right after BEGIN of the turn's transaction. */
  afterBegin?(): void;
  /**
   * Runs before each write that is not the KV store's (the app's SQL, an operator's write), in
   * the transaction: a change feed attaches its session at the first.
   */
  beforeSqlWrite?(): void;
  /** Runs after the KV store put (`value`: serialized) or deleted a row (a change feed logs it). */
  kvWritten?(key: string, value: Uint8Array | undefined): void;
  /** Runs after SAVEPOINT opens the savepoint at `depth` (0: the outermost). */
  savepointOpened?(depth: number): void;
  /** Runs after ROLLBACK TO undid the savepoint at `depth`. */
  savepointRolledBack?(depth: number): void;
  /** Runs just before COMMIT; what it returns runs once the commit is durable. */
  beforeCommit(): (() => void) | undefined;
}

/**
 * Owns every BEGIN, SAVEPOINT and COMMIT of one object's database (one per object generation).
 *
 * Write coalescing: the first write opens a transaction and schedules its COMMIT for the end of
 * the current turn (`setImmediate`, after the microtask queue drained), so writes made with no
 * intervening await — and the rest of the turn — commit atomically. Explicit transactions are
 * savepoints inside it and postpone the commit until they end. Once committed, the driver makes
 * it durable; the output gate waits for that, and a failure breaks this generation.
 *
 * While a commit is being made durable, the next one waits: the writes of every turn meanwhile
 * join one transaction, committed when the flush before it settles (as workerd's storage cache
 * coalesces the writes made during a flush into the next). A busy object thus commits once per
 * flush: fewer, larger commits, and no output waits longer than the flush it would have queued
 * behind anyway. `commitImplicit` does not wait.
 */
export class Transactions {
  readonly #db: ObjectDatabase;
  readonly #outputGate: OutputGate;
  readonly #hooks: CommitHooks;
  readonly #onFailure: (error: Error) => void;
  /** Seconds from COMMIT to durable, per commit (the namespace's metrics). */
  readonly #commitSeconds: HistogramCounts | undefined;
  #open: OpenTransaction | undefined;
  #depth = 0;
  #scheduled = false;
  /** Commits whose flush has not settled yet. */
  #flushing = 0;
  #lastDurable: Promise<void> | undefined;
  #broken: Error | undefined;
  /** The SQLite error that rolled back the transaction and broke this generation, if any. */
  #critical: Error | undefined;

  constructor(
    db: ObjectDatabase,
    outputGate: OutputGate,
    hooks: CommitHooks,
    onFailure: (error: Error) => void,
    commitSeconds?: HistogramCounts,
  ) {
    this.#db = db;
    this.#outputGate = outputGate;
    this.#hooks = hooks;
    this.#onFailure = onFailure;
    this.#commitSeconds = commitSeconds;
  }

  /**
   * Throws if this generation was reset; call before every storage operation. After a critical
   * SQL error every storage operation throws that error again, as on workerd.
   */
  check(): void {
    if (this.#critical) throw this.#critical;
    if (this.#broken) {
      throw new SteadError(
        "STALE_INSTANCE",
        `This Durable Object instance was reset (${this.#broken.message}), so it can no longer use storage. The next event runs a new instance.`,
        { cause: this.#broken, retryable: true, remote: true },
      );
    }
  }

  /** Call before every write: joins (or opens) the turn's transaction. */
  beforeWrite(unconfirmed = false): void {
    this.check();
    const tx = this.#ensureOpen();
    if (!unconfirmed && !tx.gated) {
      tx.gated = true;
      this.#outputGate.hold(tx.durable.promise);
    }
  }

  /** Call instead of `beforeWrite` before a write that is not the KV store's (see CommitHooks). */
  beforeSqlWrite(): void {
    this.beforeWrite();
    this.#hooks.beforeSqlWrite?.();
  }

  /** Whether the KV store should report its writes (`kvWritten`): a change feed logs them. */
  get tracksKv(): boolean {
    return this.#hooks.kvWritten !== undefined;
  }

  /** Call after the KV store put (`value`: serialized) or deleted a row of `key`. */
  kvWritten(key: string, value: Uint8Array | undefined): void {
    this.#hooks.kvWritten?.(key, value);
  }

  /** Runs `fn` in a nested savepoint: released on return, rolled back (and rethrown) on throw. */
  savepoint<T>(fn: () => T): T {
    const name = this.begin();
    try {
      const result = fn();
      this.end(name, true);
      return result;
    } catch (error) {
      this.end(name, false);
      throw error;
    }
  }

  /**
   * Commits the turn's implicit transaction now, unless an explicit one is open: an async
   * `storage.transaction()` starts after the writes before it committed, as on workerd, so its
   * failure cannot take them with it.
   */
  commitImplicit(): void {
    this.check();
    if (this.#depth === 0 && this.#open !== undefined) this.#commitNow();
  }

  /**
   * Commits writes still waiting for the flush before them (see the class doc): call before the
   * connection closes with this generation intact (the object leaves memory), so the close makes
   * them durable rather than rolling them back.
   */
  commitBeforeClose(): void {
    if (this.#broken === undefined && this.#depth === 0) this.#commitNow();
  }

  /** Opens a savepoint for an explicit transaction; the turn's commit waits until `end`. */
  begin(): string {
    this.check();
    this.#ensureOpen();
    const depth = this.#depth++;
    const name = `${SAVEPOINT_PREFIX}${depth}`;
    this.#run(`SAVEPOINT ${name}`);
    this.#hooks.savepointOpened?.(depth);
    return name;
  }

  /**
   * Ends the savepoint `begin` returned, keeping (`commit`) or discarding its writes. Keeping
   * them throws after a critical SQL error: SQLite already rolled them back.
   */
  end(name: string, commit: boolean): void {
    if (commit && this.#critical) throw new Error(CRITICAL_COMMIT_MESSAGE);
    if (this.#broken) return;
    if (!commit) {
      this.#run(`ROLLBACK TO ${name}`);
      this.#hooks.savepointRolledBack?.(Number(name.slice(SAVEPOINT_PREFIX.length)));
    }
    this.#run(`RELEASE ${name}`);
    this.#depth--;
    if (this.#depth === 0) this.#schedule();
  }

  /** True while an explicit transaction or savepoint is open. */
  get inExplicitTransaction(): boolean {
    return this.#depth > 0;
  }

  /** Resolves when every write made so far (including unconfirmed ones) is durable. */
  sync(): Promise<void> {
    this.check();
    return this.#open?.durable.promise ?? this.#lastDurable ?? Promise.resolve();
  }

  /** The critical SQL error that broke this generation, if one did. */
  get criticalError(): Error | undefined {
    return this.#critical;
  }

  /**
   * Call with what a statement of this object threw; returns the error to throw instead when it
   * was critical. An error after which SQLite rolled back the open transaction by itself (the
   * size limit reached: SQLITE_FULL; also I/O errors, out of memory) is critical, as on workerd:
   * the turn's writes are gone, so this generation breaks with it (its held outputs fail with
   * it, the object is reset) and every later storage call throws it. Earlier commits stay.
   */
  failedCritically(error: unknown): Error | undefined {
    if (this.#open === undefined || !isCriticalSqliteError(error)) return undefined;
    if (this.#db.sqlite.isTransaction) return undefined;
    const critical = sqlError(error, undefined);
    this.#critical = critical;
    this.break(critical);
    this.#onFailure(critical);
    return critical;
  }

  /** Breaks this generation: rolls back the open transaction and fails whoever waits on it. */
  break(error: Error): void {
    if (this.#broken) return;
    this.#broken = error;
    const tx = this.#open;
    this.#open = undefined;
    if (tx) {
      try {
        this.#db.exec("ROLLBACK");
      } catch {
        // The connection is reopened by the reset, which rolls back as well.
      }
      tx.release();
      tx.durable.reject(error);
    }
  }

  /** Runs transaction control SQL through the per-connection statement cache (no re-parse). */
  #run(sql: string): void {
    this.#db.statement(sql).run();
  }

  #ensureOpen(): OpenTransaction {
    let tx = this.#open;
    if (!tx) {
      this.#run("BEGIN");
      tx = { durable: deferred(), release: this.#db.hold(), gated: false };
      this.#hooks.afterBegin?.();
      this.#open = tx;
      this.#lastDurable = tx.durable.promise;
      this.#schedule();
    }
    return tx;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // setImmediate, not a microtask: the commit must come after the current turn's microtasks,
    // which may still be issuing writes that belong to the same atomic batch.
    setImmediate(this.#commit);
  }

  readonly #commit = (): void => {
    this.#scheduled = false;
    // The last commit is still being made durable: this one waits for it (its flush schedules
    // this again) and takes every write made meanwhile.
    if (this.#flushing === 0) this.#commitNow();
  };

  #commitNow(): void {
    const tx = this.#open;
    if (!tx || this.#depth > 0 || this.#broken) return;
    this.#open = undefined;
    const started = performance.now();
    let afterDurable: (() => void) | undefined;
    try {
      afterDurable = this.#hooks.beforeCommit();
      this.#run("COMMIT");
      tx.release();
    } catch (cause) {
      const error = new SteadError(
        "STORAGE_FLUSH_FAILED",
        `Durable Object storage commit failed, so the object was reset: ${errorMessage(cause)}`,
        { cause, retryable: true, remote: true },
      );
      this.#open = tx;
      this.break(error);
      this.#onFailure(error);
      return;
    }
    this.#flushing++;
    this.#db.flush().then(
      () => {
        this.#flushing--;
        if (this.#open !== undefined) this.#schedule();
        this.#commitSeconds?.observe((performance.now() - started) / 1000);
        afterDurable?.();
        tx.durable.resolve();
      },
      (cause: unknown) => {
        this.#flushing--;
        const error = new SteadError(
          "STORAGE_FLUSH_FAILED",
          `Durable Object storage write could not be made durable, so the object was reset: ${errorMessage(cause)}`,
          { cause, retryable: true, remote: true },
        );
        tx.durable.reject(error);
        this.break(error);
        this.#onFailure(error);
      },
    );
  }
}

import { SteadError } from "../../core/errors.ts";
import { endOfGeneration } from "../../core/storage/bookmarks.ts";
import type { DatabaseHistory } from "../../core/storage/driver.ts";
import { positionOf, ROW_TIME, txidOf } from "./history-positions.ts";
import type { Row } from "./pg-pool.ts";

/** What one object's history needs from its handle and driver. */
export interface HistoryHost {
  readonly S: string;
  readonly namespace: string;
  readonly id: string;
  /** How long a replaced state stays restorable, ms. */
  readonly retentionMs: number;
  /** Epoch ms (the runtime's clock, so tests move time). */
  now(): number;
  /** The handle's claim and its newest durable log row, and the restores' rows (`history-positions.ts`). */
  head(): { epoch: number; txid: number; generations: readonly number[] };
  /** One statement, within the driver's answer timeout. */
  query(text: string, params: unknown[]): Promise<Row[]>;
}

/**
 * The PostgreSQL driver's `DatabaseHistory`: the object's log rows, kept for the retention window
 * over `object_base_pages` (the oldest restorable state, at `object_history.base_txid`). A
 * restore is recorded in `object_history.restore_txid` and applied by the next `prepareObject`
 * (`history-restore.ts`), so it survives the data directory and reaches any process.
 */
export class PostgresDatabaseHistory implements DatabaseHistory {
  readonly #host: HistoryHost;

  constructor(host: HistoryHost) {
    this.#host = host;
  }

  get retentionMs(): number {
    return this.#host.retentionMs;
  }

  async currentPosition(): Promise<number> {
    const { txid, generations } = this.#host.head();
    return positionOf(txid, generations);
  }

  async positionAt(time: number): Promise<number | "too-old"> {
    if (time < this.#host.now() - this.retentionMs) return "too-old";
    const { txid: head, generations } = this.#host.head();
    const S = this.#host.S;
    const [row] = await this.#host.query(
      `SELECT COALESCE(h.base_txid, $3) AS base,
         (SELECT max(txid) FROM ${S}.object_log l
           WHERE l.namespace = $1 AND l.id = $2 AND l.txid > COALESCE(h.base_txid, $3)
             AND l.txid <= $3 AND ${ROW_TIME} <= $4) AS txid
       FROM ${S}.object_history h WHERE h.namespace = $1 AND h.id = $2`,
      [this.#host.namespace, this.#host.id, head, time],
    );
    const txid = row?.txid ?? row?.base ?? head;
    return positionOf(Number(txid), generations);
  }

  async check(position: number): Promise<"kept" | "too-old" | "unknown"> {
    const { txid: head, generations } = this.#host.head();
    const txid = txidOf(position, generations, head);
    if (txid === undefined) return "unknown";
    if (txid === head) return "kept";
    const S = this.#host.S;
    const [row] = await this.#host.query(
      `SELECT h.base_txid AS base,
         (SELECT ${ROW_TIME} FROM ${S}.object_log l
           WHERE l.namespace = $1 AND l.id = $2 AND l.txid = $3 + 1) AS replaced_at
       FROM ${S}.object_history h WHERE h.namespace = $1 AND h.id = $2`,
      [this.#host.namespace, this.#host.id, txid],
    );
    if (row === undefined || row.base === null || txid < Number(row.base)) return "too-old";
    if (row.replaced_at === null) return "too-old";
    return Number(row.replaced_at) < this.#host.now() - this.retentionMs ? "too-old" : "kept";
  }

  async restoreOnNextStart(position: number): Promise<number> {
    const { epoch, txid: head, generations } = this.#host.head();
    const state = await this.check(position);
    if (state !== "kept") throw new RangeError(`internal: position ${position} is ${state}`);
    const target = txidOf(position, generations, head)!;
    const S = this.#host.S;
    const key = [this.#host.namespace, this.#host.id];
    // Only while the target is still kept (a prune serializes with this on the history row) and
    // this process still holds the object.
    const recorded = await this.#host.query(
      `UPDATE ${S}.object_history h SET restore_txid = $3
       WHERE h.namespace = $1 AND h.id = $2 AND h.base_txid <= $3
         AND EXISTS (SELECT 1 FROM ${S}.objects o
                     WHERE o.namespace = $1 AND o.id = $2 AND o.epoch = $4)
       RETURNING 1`,
      [...key, target, epoch],
    );
    if (recorded.length === 0) {
      const [object] = await this.#host.query(
        `SELECT epoch FROM ${S}.objects WHERE namespace = $1 AND id = $2`,
        key,
      );
      if (Number(object?.epoch) !== epoch) {
        throw new SteadError(
          "OBJECT_FENCED",
          `Another process took object ${key.join("/")} (its epoch in PostgreSQL is past ${epoch}), so the restore was not recorded, and this process can no longer commit to the object. Point one process at a storage URL and schema, or run the cluster.`,
          { retryable: true, remote: true },
        );
      }
      throw new SteadError(
        "BOOKMARK_EXPIRED",
        `The state of object ${key.join("/")} to restore was pruned from its history while the restore was being recorded. Nothing was changed. Choose a later point, or keep history longer (historyRetentionDays / STEAD_HISTORY_RETENTION_DAYS).`,
        { remote: true },
      );
    }
    return endOfGeneration(positionOf(head, generations));
  }
}

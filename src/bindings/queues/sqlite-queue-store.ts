import type { DatabaseSync, StatementSync } from "node:sqlite";
import { immediateTransaction } from "../../core/storage/immediate-transaction.ts";
import type { LeasedMessage, NewMessage, QueueContentType, QueueStore } from "./queue-store.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS queue_messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  id TEXT NOT NULL UNIQUE,
  timestamp INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  body BLOB NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  due_at INTEGER NOT NULL,
  leased_until INTEGER
);
CREATE INDEX IF NOT EXISTS queue_messages_due ON queue_messages (queue, due_at, seq);
`;

/** How long a delivered message stays leased without `extend` (a handler that hangs). */
export const LEASE_MS = 60_000;

/**
 * How often a waiting `receive` looks again for messages other connections (object threads)
 * sent, or that became due: sends through this store wake it at once.
 */
const POLL_MS = 50;

/**
 * Every queue of a data directory in one SQLite database (`<dataDir>/queues.sqlite`). A message
 * is a row; a lease is `leased_until`, which only the consumer's process writes, so `open`
 * with `clearLeases` (the consumer's side, once the data directory is held) makes every message
 * a crash left leased due again. Several threads may open the same file (normal locking, WAL);
 * only sends must be durable before they resolve; settling is made durable in the same way
 * (a lost ack only means a message is delivered again).
 */
export class SqliteQueueStore implements QueueStore {
  readonly #db: DatabaseSync;
  readonly #durable: () => Promise<void>;
  readonly #close: () => Promise<void>;
  readonly #insert: StatementSync;
  readonly #due: StatementSync;
  readonly #lease: StatementSync;
  readonly #extend: StatementSync;
  readonly #delete: StatementSync;
  readonly #retry: StatementSync;
  readonly #move: StatementSync;
  /** Receives waiting for a send through this store. */
  readonly #waiting = new Set<() => void>();
  #closed = false;

  /**
   * `durable` resolves once every commit made to `db` so far is on disk; `close` closes `db`
   * and what makes it durable.
   */
  constructor(
    db: DatabaseSync,
    durable: () => Promise<void>,
    close: () => Promise<void>,
    options: { clearLeases: boolean },
  ) {
    db.exec(SCHEMA);
    this.#db = db;
    this.#durable = durable;
    this.#close = close;
    if (options.clearLeases) {
      db.exec("UPDATE queue_messages SET leased_until = NULL WHERE leased_until IS NOT NULL");
    }
    this.#insert = db.prepare(
      `INSERT OR IGNORE INTO queue_messages (queue, id, timestamp, content_type, body, due_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.#due = db.prepare(
      `SELECT seq, id, timestamp, content_type, body, attempts FROM queue_messages
       WHERE queue = ? AND due_at <= ? AND (leased_until IS NULL OR leased_until <= ?)
       ORDER BY due_at, seq LIMIT ?`,
    );
    this.#lease = db.prepare(
      "UPDATE queue_messages SET leased_until = ?, attempts = attempts + 1 WHERE seq = ?",
    );
    this.#extend = db.prepare(
      "UPDATE queue_messages SET leased_until = ? WHERE queue = ? AND id = ? AND leased_until IS NOT NULL",
    );
    this.#delete = db.prepare("DELETE FROM queue_messages WHERE queue = ? AND id = ?");
    this.#retry = db.prepare(
      "UPDATE queue_messages SET leased_until = NULL, due_at = ? WHERE queue = ? AND id = ?",
    );
    this.#move = db.prepare(
      `UPDATE queue_messages SET queue = ?, attempts = 0, leased_until = NULL, due_at = ?
       WHERE queue = ? AND id = ?`,
    );
  }

  async send(queue: string, messages: readonly NewMessage[]): Promise<void> {
    const now = Date.now();
    this.#transaction(() => {
      for (const message of messages) {
        this.#insert.run(
          queue,
          message.id,
          message.timestamp,
          message.contentType,
          message.body,
          now + message.delayMs,
        );
      }
    });
    await this.#durable();
    for (const wake of [...this.#waiting]) wake();
  }

  async receive(
    queue: string,
    max: number,
    waitMs: number,
    signal: AbortSignal,
  ): Promise<LeasedMessage[]> {
    const deadline = performance.now() + waitMs;
    for (;;) {
      if (this.#closed || signal.aborted) return [];
      const leased = this.#take(queue, max);
      if (leased.length > 0) return leased;
      const left = deadline - performance.now();
      if (left <= 0) return [];
      await this.#wait(Math.min(left, POLL_MS), signal);
    }
  }

  async extend(queue: string, messages: readonly LeasedMessage[]): Promise<void> {
    const until = Date.now() + LEASE_MS;
    this.#transaction(() => {
      for (const { id } of messages) this.#extend.run(until, queue, id);
    });
  }

  async ack(queue: string, messages: readonly LeasedMessage[]): Promise<void> {
    this.#transaction(() => {
      for (const { id } of messages) this.#delete.run(queue, id);
    });
    await this.#durable();
  }

  async retry(queue: string, messages: readonly LeasedMessage[], delayMs: number): Promise<void> {
    const due = Date.now() + delayMs;
    this.#transaction(() => {
      for (const { id } of messages) this.#retry.run(due, queue, id);
    });
    await this.#durable();
  }

  async deadLetter(
    queue: string,
    messages: readonly LeasedMessage[],
    deadLetterQueue: string,
  ): Promise<void> {
    const now = Date.now();
    this.#transaction(() => {
      for (const { id } of messages) this.#move.run(deadLetterQueue, now, queue, id);
    });
    await this.#durable();
    for (const wake of [...this.#waiting]) wake();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const wake of [...this.#waiting]) wake();
    await this.#close();
  }

  /** Leases what is due now, in one transaction (another thread's receive cannot take it too). */
  #take(queue: string, max: number): LeasedMessage[] {
    const now = Date.now();
    return this.#transaction(() => {
      const rows = this.#due.all(queue, now, now, max);
      return rows.map((row) => {
        this.#lease.run(now + LEASE_MS, row.seq as number);
        return {
          id: row.id as string,
          timestamp: row.timestamp as number,
          contentType: row.content_type as QueueContentType,
          body: row.body as Uint8Array,
          attempts: (row.attempts as number) + 1,
        };
      });
    });
  }

  /** Resolves after `ms`, on a send through this store, or when `signal` aborts. */
  #wait(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.#waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done);
      this.#waiting.add(done);
    });
  }

  #transaction<T>(fn: () => T): T {
    return immediateTransaction(this.#db, fn);
  }
}

/**
 * The largest value SQLite in a Durable Object stores in one row (2 MB), less some room. A
 * document whose whole state is bigger is not compacted into one row; its updates stay as they
 * are, which loads more slowly but loses nothing.
 */
const MAX_ROW_BYTES = 2_000_000 - 1024;

/**
 * A document's Yjs updates in its object's SQLite database: one row per update, appended in the
 * turn the update arrives, and merged into a single row once there are more than `compactAfter`.
 */
export class UpdateLog {
  readonly #sql: SqlStorage;
  readonly #compactAfter: number;
  #rows = 0;
  /** The row count at which to compact next (moved on when a state is too big to compact). */
  #compactAt: number;

  constructor(sql: SqlStorage, compactAfter: number) {
    this.#sql = sql;
    this.#compactAfter = compactAfter;
    this.#compactAt = compactAfter;
    sql.exec(`CREATE TABLE IF NOT EXISTS updates (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      data BLOB NOT NULL
    )`);
  }

  /** Every stored update, oldest first. */
  load(): Uint8Array[] {
    const rows = this.#sql
      .exec<{ data: ArrayBuffer }>("SELECT data FROM updates ORDER BY id")
      .toArray()
      .map((row) => new Uint8Array(row.data));
    this.#rows = rows.length;
    return rows;
  }

  /**
   * Stores `update`. Past the threshold, replaces every row by `state()`, the whole document as
   * one update: both writes land in the same implicit transaction, so a crash keeps either the
   * old rows or the merged one.
   */
  append(update: Uint8Array, state: () => Uint8Array): void {
    this.#sql.exec("INSERT INTO updates (data) VALUES (?)", update);
    this.#rows += 1;
    if (this.#rows <= this.#compactAt) return;
    const merged = state();
    if (merged.byteLength > MAX_ROW_BYTES) {
      this.#compactAt = this.#rows + this.#compactAfter;
      return;
    }
    this.#sql.exec("DELETE FROM updates");
    this.#sql.exec("INSERT INTO updates (data) VALUES (?)", merged);
    this.#rows = 1;
    this.#compactAt = this.#compactAfter;
  }
}

/**
 * The KV puts and deletes of one transaction, as the KV store made them, so that a transaction
 * that wrote only KV needs no session extension session (which costs more than the rest of the
 * capture together: SQLite looks up the table and prepares statements again for every session).
 * Savepoints rolled back drop their entries. `encode` writes them as a changeset section of
 * `_cf_KV` in SQLite's format (`changeset-decoder.ts`), so `_cf_changes` rows and the shipper
 * read them as they read a session's.
 */
export class KvChangeLog {
  /** In write order; `value` undefined: a delete. */
  #entries: Array<{ key: string; value: Uint8Array | undefined }> = [];
  /** Per open savepoint depth, the entries made before it opened. */
  readonly #marks: number[] = [];

  get empty(): boolean {
    return this.#entries.length === 0;
  }

  /** Call after a put (`value`: its serialized bytes) or a delete that removed a row. */
  record(key: string, value: Uint8Array | undefined): void {
    this.#entries.push({ key, value });
  }

  /** Call when the savepoint at `depth` opens. */
  savepointOpened(depth: number): void {
    this.#marks[depth] = this.#entries.length;
  }

  /** Call when the savepoint at `depth` is rolled back: its entries never happened. */
  savepointRolledBack(depth: number): void {
    const mark = this.#marks[depth];
    if (mark !== undefined) this.#entries.length = Math.min(this.#entries.length, mark);
  }

  clear(): void {
    this.#entries = [];
    this.#marks.length = 0;
  }

  /**
   * The entries' net effect as a changeset section: per key its last put (an INSERT of the key
   * and value) or delete (a DELETE of the key; the old value is not known and written NULL,
   * which the feed never reads). Keys in the order of their last write.
   */
  encode(): Uint8Array {
    const last = new Map<string, Uint8Array | undefined>();
    for (const { key, value } of this.#entries) {
      last.delete(key);
      last.set(key, value);
    }
    const parts: Uint8Array[] = [TABLE_HEADER];
    for (const [key, value] of last) {
      const keyBytes = encoder.encode(key);
      parts.push(
        Uint8Array.of(value === undefined ? OP_DELETE : OP_INSERT, 0, TYPE_TEXT),
        varint(keyBytes.length),
        keyBytes,
      );
      if (value === undefined) parts.push(Uint8Array.of(TYPE_NULL));
      else parts.push(Uint8Array.of(TYPE_BLOB), varint(value.length), value);
    }
    return joinBytes(parts);
  }
}

const OP_INSERT = 18;
const OP_DELETE = 9;
const TYPE_TEXT = 3;
const TYPE_BLOB = 4;
const TYPE_NULL = 5;
const encoder = new TextEncoder();
/** 'T', two columns, the first the primary key, the table name NUL-terminated. */
const TABLE_HEADER = Uint8Array.of(0x54, 2, 1, 0, ...encoder.encode("_cf_KV"), 0);

/** The parts one after the other, as a plain Uint8Array (as a session's changeset is). */
export function joinBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

/** SQLite's varint (big-endian, 7 bits per byte, high bit on all but the last): lengths only. */
function varint(value: number): Uint8Array {
  const bytes = [value & 0x7f];
  for (let rest = Math.floor(value / 128); rest > 0; rest = Math.floor(rest / 128)) {
    bytes.unshift((rest & 0x7f) | 0x80);
  }
  return Uint8Array.from(bytes);
}

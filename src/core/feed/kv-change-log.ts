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
    // Sized first, then written into one buffer: this runs in every KV-only commit.
    const keys: Uint8Array[] = [];
    let length = TABLE_HEADER.length;
    for (const [key, value] of last) {
      const keyBytes = encoder.encode(key);
      keys.push(keyBytes);
      length += 3 + varintLength(keyBytes.length) + keyBytes.length;
      length += value === undefined ? 1 : 1 + varintLength(value.length) + value.length;
    }
    const out = new Uint8Array(length);
    out.set(TABLE_HEADER);
    let at = TABLE_HEADER.length;
    let i = 0;
    for (const value of last.values()) {
      const keyBytes = keys[i++]!;
      out[at++] = value === undefined ? OP_DELETE : OP_INSERT;
      out[at++] = 0;
      out[at++] = TYPE_TEXT;
      at = writeVarint(out, at, keyBytes.length);
      out.set(keyBytes, at);
      at += keyBytes.length;
      if (value === undefined) out[at++] = TYPE_NULL;
      else {
        out[at++] = TYPE_BLOB;
        at = writeVarint(out, at, value.length);
        out.set(value, at);
        at += value.length;
      }
    }
    return out;
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

/** The bytes of SQLite's varint (big-endian, 7 bits per byte, high bit on all but the last). */
function varintLength(value: number): number {
  let bytes = 1;
  for (let rest = Math.floor(value / 128); rest > 0; rest = Math.floor(rest / 128)) bytes++;
  return bytes;
}

/** Writes `value` as SQLite's varint at `at` (lengths only); returns the offset past it. */
function writeVarint(out: Uint8Array, at: number, value: number): number {
  const end = at + varintLength(value);
  let rest = value;
  out[end - 1] = rest & 0x7f;
  for (let i = end - 2; i >= at; i--) {
    rest = Math.floor(rest / 128);
    out[i] = (rest & 0x7f) | 0x80;
  }
  return end;
}

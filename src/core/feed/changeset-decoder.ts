/**
 * Reads SQLite's changeset format (the session extension's `sqlite3session_changeset`, which
 * node:sqlite's `Session.changeset()` returns), as https://www.sqlite.org/sessionintro.html and
 * the comments of sqlite3session.h define it:
 *
 * - a table header: `'T'`, a varint column count, one byte per column (non-zero: part of the
 *   primary key), the table name NUL-terminated;
 * - then its changes: an operation byte (INSERT 18, UPDATE 23, DELETE 9), an "indirect" byte,
 *   and records: INSERT the new row, DELETE the old row, UPDATE the old values then the new
 *   ones, where a column the update did not touch is "undefined" (type 0).
 * - A value is a type byte: 0 undefined, 1 INTEGER (8 bytes, big-endian two's complement),
 *   2 FLOAT (8 bytes, big-endian IEEE 754), 3 TEXT / 4 BLOB (varint length, bytes), 5 NULL.
 */

/**
 * A column value as recorded: INTEGER as bigint and REAL as number (so `2` and `2.0` stay
 * apart), TEXT as string, BLOB as bytes; `undefined` where an UPDATE left the column alone.
 */
export type ChangesetValue = bigint | number | string | Uint8Array | null | undefined;

/** One row change of a changeset. */
export interface RowChange {
  table: string;
  op: "insert" | "update" | "delete";
  /** Per column: part of the primary key. */
  pk: readonly boolean[];
  /** DELETE and UPDATE: the row before (UPDATE: the key and the changed columns only). */
  old: ChangesetValue[] | undefined;
  /** INSERT and UPDATE: the row after (UPDATE: the changed columns only). */
  new: ChangesetValue[] | undefined;
}

const OP_INSERT = 18;
const OP_UPDATE = 23;
const OP_DELETE = 9;
const textDecoder = new TextDecoder("utf-8", { fatal: false });

/** Decodes a whole changeset; throws a RangeError on bytes that are not one. */
export function decodeChangeset(bytes: Uint8Array): RowChange[] {
  const reader = new Reader(bytes);
  const changes: RowChange[] = [];
  let table: string | undefined;
  let pk: boolean[] = [];
  while (!reader.done) {
    const op = reader.byte();
    if (op === 0x54 /* 'T' */) {
      const columns = reader.varint();
      pk = [];
      for (let i = 0; i < columns; i++) pk.push(reader.byte() !== 0);
      table = reader.cstring();
      continue;
    }
    if (table === undefined) throw new RangeError("Changeset: a change before any table header.");
    reader.byte(); // indirect
    const record = () => Array.from(pk, () => reader.value());
    switch (op) {
      case OP_INSERT:
        changes.push({ table, op: "insert", pk, old: undefined, new: record() });
        break;
      case OP_DELETE:
        changes.push({ table, op: "delete", pk, old: record(), new: undefined });
        break;
      case OP_UPDATE: {
        const old = record();
        changes.push({ table, op: "update", pk, old, new: record() });
        break;
      }
      default:
        throw new RangeError(`Changeset: unknown operation ${op} at byte ${reader.offset - 2}.`);
    }
  }
  return changes;
}

/**
 * The names of the tables a changeset touches, in its order, without decoding any value: what
 * the commit path needs (whether the app's tables or KV changed, and whose columns to record);
 * the shipper decodes the rest. Throws a RangeError on bytes that are not a changeset.
 */
export function changesetTables(bytes: Uint8Array): string[] {
  const reader = new Reader(bytes);
  const tables: string[] = [];
  let columns = -1;
  while (!reader.done) {
    const op = reader.byte();
    if (op === 0x54 /* 'T' */) {
      columns = reader.varint();
      reader.offset += columns;
      tables.push(reader.cstring());
      continue;
    }
    if (columns < 0) throw new RangeError("Changeset: a change before any table header.");
    reader.byte(); // indirect
    if (op !== OP_INSERT && op !== OP_DELETE && op !== OP_UPDATE) {
      throw new RangeError(`Changeset: unknown operation ${op} at byte ${reader.offset - 2}.`);
    }
    const values = op === OP_UPDATE ? columns * 2 : columns;
    for (let i = 0; i < values; i++) reader.skipValue();
  }
  return tables;
}

class Reader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get done(): boolean {
    return this.offset >= this.#bytes.length;
  }

  byte(): number {
    if (this.offset >= this.#bytes.length) throw new RangeError("Changeset: truncated.");
    return this.#bytes[this.offset++]!;
  }

  /** SQLite's varint: 7 bits per byte, high bit set on all but the last; a 9th byte gives 8. */
  varint(): number {
    let value = 0;
    for (let i = 0; i < 8; i++) {
      const byte = this.byte();
      value = value * 128 + (byte & 0x7f);
      if ((byte & 0x80) === 0) return value;
    }
    return value * 256 + this.byte();
  }

  cstring(): string {
    const end = this.#bytes.indexOf(0, this.offset);
    if (end < 0) throw new RangeError("Changeset: unterminated table name.");
    const text = textDecoder.decode(this.#bytes.subarray(this.offset, end));
    this.offset = end + 1;
    return text;
  }

  value(): ChangesetValue {
    const type = this.byte();
    switch (type) {
      case 0:
        return undefined;
      case 1:
        return this.#view.getBigInt64(this.#take(8));
      case 2:
        return this.#view.getFloat64(this.#take(8));
      case 3: {
        const length = this.varint();
        const start = this.#take(length);
        return textDecoder.decode(this.#bytes.subarray(start, start + length));
      }
      case 4: {
        const length = this.varint();
        const start = this.#take(length);
        return this.#bytes.slice(start, start + length);
      }
      case 5:
        return null;
      default:
        throw new RangeError(`Changeset: unknown value type ${type} at byte ${this.offset - 1}.`);
    }
  }

  /** Steps over one value (as `value` reads it) without making it. */
  skipValue(): void {
    const type = this.byte();
    if (type === 1 || type === 2) this.#take(8);
    else if (type === 3 || type === 4) this.#take(this.varint());
    else if (type !== 0 && type !== 5) {
      throw new RangeError(`Changeset: unknown value type ${type} at byte ${this.offset - 1}.`);
    }
  }

  #take(length: number): number {
    const start = this.offset;
    if (start + length > this.#bytes.length) throw new RangeError("Changeset: truncated value.");
    this.offset += length;
    return start;
  }
}

import { isFedTable } from "../core/feed/change-capture.ts";
import type { RecordedChanges } from "../core/feed/change-feed.ts";
import { type ChangesetValue, decodeChangeset } from "../core/feed/changeset-decoder.ts";
import { deserializeValue } from "../core/values/value-serializer.ts";

/** A SQL value as the feed carries it: INTEGER as bigint, REAL as number. */
export type SqlValue = bigint | number | string | Uint8Array | null;

/** One row change of the app's SQL tables. */
export interface RowChange {
  kind: "row";
  table: string;
  op: "insert" | "update" | "delete";
  /** The primary key's columns and values (before the change, for updates and deletes). */
  key: Record<string, SqlValue>;
  /** insert: every column; update: the columns it changed; delete: none. */
  values: Record<string, SqlValue> | undefined;
}

/** A KV put or delete (`ctx.storage.put` / `delete`, the sync KV API). */
export interface KvChange {
  kind: "kv";
  op: "put" | "delete";
  key: string;
  /** The value put, deserialized (structured clone). */
  value?: unknown;
}

export type FeedChange = RowChange | KvChange;

/** One commit of one object, decoded. */
export interface FeedCommit {
  seq: number;
  at: number;
  changes: FeedChange[];
}

/** Decodes a recorded commit into its row and KV changes, in changeset order. */
export function decodeCommit(recorded: RecordedChanges): FeedCommit {
  const changes: FeedChange[] = [];
  for (const change of decodeChangeset(recorded.changeset)) {
    if (!isFedTable(change.table)) continue;
    if (change.table === "_cf_KV") {
      const key = String((change.old ?? change.new)![0]);
      if (change.op === "delete") changes.push({ kind: "kv", op: "delete", key });
      else {
        const bytes = change.new![1];
        changes.push({
          kind: "kv",
          op: "put",
          key,
          value: bytes instanceof Uint8Array ? deserializeValue(bytes) : bytes,
        });
      }
      continue;
    }
    const columns = recorded.columns[change.table] ?? [];
    const name = (i: number) => columns[i] ?? `column${i + 1}`;
    const keyOf = (record: ChangesetValue[]) => {
      const key: Record<string, SqlValue> = {};
      change.pk.forEach((pk, i) => {
        if (pk) key[name(i)] = record[i] as SqlValue;
      });
      return key;
    };
    const valuesOf = (record: ChangesetValue[]) => {
      const values: Record<string, SqlValue> = {};
      record.forEach((value, i) => {
        if (value !== undefined) values[name(i)] = value;
      });
      return values;
    };
    const before = change.old;
    const after = change.new;
    if (change.op === "insert") {
      changes.push({
        kind: "row",
        table: change.table,
        op: "insert",
        key: keyOf(after!),
        values: valuesOf(after!),
      });
    } else if (change.op === "delete") {
      changes.push({
        kind: "row",
        table: change.table,
        op: "delete",
        key: keyOf(before!),
        values: undefined,
      });
    } else {
      const values = valuesOf(after!);
      changes.push({ kind: "row", table: change.table, op: "update", key: keyOf(before!), values });
    }
  }
  return { seq: recorded.seq, at: recorded.at, changes };
}

/**
 * A JSON-safe copy of a feed value: bigints within 2^53 as numbers, larger ones as strings,
 * bytes as `{ base64 }`, Maps and Sets as `{ map: [[k, v]...] }` and arrays, Dates as ISO text.
 */
export function toJson(value: unknown): unknown {
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (value === null || typeof value !== "object") {
    return typeof value === "number" && !Number.isFinite(value) ? String(value) : value;
  }
  if (ArrayBuffer.isView(value)) {
    return {
      base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64"),
    };
  }
  if (value instanceof ArrayBuffer) return { base64: Buffer.from(value).toString("base64") };
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Map) return { map: [...value].map(([k, v]) => [toJson(k), toJson(v)]) };
  if (value instanceof Set) return [...value].map(toJson);
  if (Array.isArray(value)) return value.map(toJson);
  if (value instanceof Error) return { error: value.name, message: value.message };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = toJson(v);
  return out;
}

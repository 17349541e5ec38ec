import { deserializeValue, serializeValue } from "../values/value-serializer.ts";
import { MAX_ROW_BYTES } from "./sql-limits.ts";

/** Keys per batched get/put/delete. */
export const MAX_BATCH = 128;
/**
 * SQLite-backed classes: a key and its serialized value together. They are one `_cf_KV` row,
 * which SQLite's length limit (MAX_ROW_BYTES) bounds with its record header (at most 9 bytes
 * for two columns this size) included, so the check here leaves room for the header.
 */
export const MAX_SQLITE_ENTRY_BYTES = MAX_ROW_BYTES - 16;
/** KV-backed (legacy `new_classes`) classes: key bytes. */
export const MAX_LEGACY_KEY_BYTES = 2048;
/** KV-backed classes: serialized value bytes, plus the 34 B of slack Cloudflare allows. */
export const MAX_LEGACY_VALUE_BYTES = 128 * 1024;
const LEGACY_VALUE_SLACK = 34;

/** Which storage backend's limits apply. */
export type StorageBackend = "sqlite" | "kv";

/** Checks a key's type and size, throwing Cloudflare's errors. */
export function checkKey(key: unknown, backend: StorageBackend): asserts key is string {
  if (typeof key !== "string") {
    throw new TypeError(
      `Storage keys must be strings, got ${key === null ? "null" : typeof key}. Convert the key with String(key) first.`,
    );
  }
  if (backend === "kv") {
    if (Buffer.byteLength(key) > MAX_LEGACY_KEY_BYTES) {
      throw new RangeError(`Keys cannot be larger than ${MAX_LEGACY_KEY_BYTES} bytes.`);
    }
  } else if (
    key.length > MAX_SQLITE_ENTRY_BYTES / 3 &&
    Buffer.byteLength(key) > MAX_SQLITE_ENTRY_BYTES
  ) {
    throw new RangeError(
      `string or blob too big: SQLITE_TOOBIG. A key may be at most ${MAX_SQLITE_ENTRY_BYTES} bytes (key "${truncate(key)}" has ${Buffer.byteLength(key)}); use a shorter key.`,
    );
  }
}

/** Checks the length of a key batch. */
export function checkKeyBatch(
  keys: readonly unknown[],
  backend: StorageBackend,
): asserts keys is string[] {
  if (keys.length > MAX_BATCH) throw new RangeError(`Maximum number of keys is ${MAX_BATCH}.`);
  for (const key of keys) checkKey(key, backend);
}

/**
 * Serializes a value as workerd does (structured clone, V8 format, the platform objects workerd
 * stores), enforcing the backend's size limit. Throws workerd's `DataCloneError` for what it
 * cannot serialize, before anything is written.
 */
export function encodeValue(key: string, value: unknown, backend: StorageBackend): Uint8Array {
  const bytes = serializeValue(value);
  if (backend === "kv") {
    if (bytes.byteLength > MAX_LEGACY_VALUE_BYTES + LEGACY_VALUE_SLACK) {
      throw new RangeError(`Values cannot be larger than ${MAX_LEGACY_VALUE_BYTES} bytes.`);
    }
  } else if (bytes.byteLength + Buffer.byteLength(key) > MAX_SQLITE_ENTRY_BYTES) {
    throw new RangeError(
      `string or blob too big: SQLITE_TOOBIG. A key and its value together may be at most ${MAX_SQLITE_ENTRY_BYTES} bytes, 2 MiB less the row's header (key "${truncate(key)}" with a ${bytes.byteLength}-byte value); split the value across several keys.`,
    );
  }
  return bytes;
}

/** Turns stored bytes back into a value (a fresh copy each time). */
export function decodeValue(bytes: Uint8Array): unknown {
  return deserializeValue(bytes);
}

function truncate(key: string): string {
  return key.length > 40 ? `${key.slice(0, 40)}…` : key;
}

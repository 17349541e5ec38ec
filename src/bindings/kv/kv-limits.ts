/** Cloudflare's KV limits (https://developers.cloudflare.com/kv/platform/limits/). */
export const KV_LIMITS = {
  /** Bytes of a key, UTF-8 encoded. */
  maxKeyBytes: 512,
  /** Bytes of a value. */
  maxValueBytes: 25 * 1024 * 1024,
  /** Bytes of the metadata, serialized as JSON. */
  maxMetadataBytes: 1024,
  /** The smallest `expirationTtl`, and how far in the future an `expiration` must be (s). */
  minExpirationTtl: 60,
  /** The smallest `cacheTtl` (s). */
  minCacheTtl: 30,
  /** Keys of one `list` page. */
  maxListKeys: 1000,
  /** Keys of one bulk `get`. */
  maxBulkKeys: 100,
  /** Bytes of the values one bulk `get` returns. */
  maxBulkBytes: 25 * 1024 * 1024,
} as const;

/** The operation names Cloudflare's errors carry: "KV PUT failed: 413 ...". */
export type KvOperation = "GET" | "GET_BULK" | "PUT" | "DELETE";

/** The error a KV call rejects with when Cloudflare's KV service would answer `status`. */
export function kvFailed(operation: KvOperation, status: number, message: string): Error {
  return new Error(`KV ${operation} failed: ${status} ${message}`);
}

const encoder = new TextEncoder();

/** UTF-8 bytes of `text`. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * Checks a key as the Workers runtime does before a single-key call: empty, "." and ".." are
 * TypeErrors; a key over 512 bytes is the service's 414.
 */
export function checkKeyName(operation: KvOperation, key: string): void {
  if (key === "") throw new TypeError("Key name cannot be empty.");
  if (key === ".") throw new TypeError('"." is not allowed as a key name.');
  if (key === "..") throw new TypeError('".." is not allowed as a key name.');
  const bytes = utf8(key).byteLength;
  if (bytes > KV_LIMITS.maxKeyBytes) {
    throw kvFailed(
      operation,
      414,
      `UTF-8 encoded length of ${bytes} exceeds key length limit of ${KV_LIMITS.maxKeyBytes}.`,
    );
  }
}

/** The service's own check of a key (bulk calls reach it without the runtime's check). */
export function checkServiceKey(operation: KvOperation, key: string): void {
  if (key === "") throw kvFailed(operation, 400, "Key names must not be empty");
  if (key === "." || key === "..") {
    throw kvFailed(operation, 400, `Illegal key name "${key}". Please use a different name.`);
  }
  const bytes = utf8(key).byteLength;
  if (bytes > KV_LIMITS.maxKeyBytes) {
    throw kvFailed(
      operation,
      414,
      `UTF-8 encoded length of ${bytes} exceeds key length limit of ${KV_LIMITS.maxKeyBytes}.`,
    );
  }
}

/** Checks `cacheTtl`: accepted (there is one location, this machine) when at least 30 s. */
export function checkCacheTtl(operation: KvOperation, cacheTtl: unknown): void {
  if (cacheTtl === undefined) return;
  const value = Number(cacheTtl);
  if (Number.isNaN(value) || value < KV_LIMITS.minCacheTtl) {
    throw kvFailed(
      operation,
      400,
      `Invalid cache_ttl of ${String(cacheTtl)}. Cache TTL must be at least ${KV_LIMITS.minCacheTtl}.`,
    );
  }
}

/**
 * The expiration (seconds since the epoch) a put asks for, checked as the service checks it:
 * `expirationTtl` wins over `expiration`; either must be at least 60 s from `now`.
 */
export function putExpiration(
  now: number,
  expiration: unknown,
  expirationTtl: unknown,
): number | undefined {
  if (expirationTtl !== undefined && expirationTtl !== null) {
    const raw = String(expirationTtl);
    const ttl = Number.parseInt(raw, 10);
    if (Number.isNaN(ttl) || ttl <= 0) {
      throw kvFailed(
        "PUT",
        400,
        `Invalid expiration_ttl of ${raw}. Please specify integer greater than 0.`,
      );
    }
    if (ttl < KV_LIMITS.minExpirationTtl) {
      throw kvFailed(
        "PUT",
        400,
        `Invalid expiration_ttl of ${raw}. Expiration TTL must be at least ${KV_LIMITS.minExpirationTtl}.`,
      );
    }
    return now + ttl;
  }
  if (expiration !== undefined && expiration !== null) {
    const raw = String(expiration);
    const at = Number.parseInt(raw, 10);
    if (Number.isNaN(at) || at <= now) {
      throw kvFailed(
        "PUT",
        400,
        `Invalid expiration of ${raw}. Please specify integer greater than the current number of seconds since the UNIX epoch.`,
      );
    }
    if (at < now + KV_LIMITS.minExpirationTtl) {
      throw kvFailed(
        "PUT",
        400,
        `Invalid expiration of ${raw}. Expiration times must be at least ${KV_LIMITS.minExpirationTtl} seconds in the future.`,
      );
    }
    return at;
  }
  return undefined;
}

/** The metadata as JSON text, or undefined for none; over 1024 bytes is the service's 413. */
export function putMetadata(metadata: unknown): string | undefined {
  if (metadata === undefined || metadata === null) return undefined;
  const json = JSON.stringify(metadata);
  if (json === undefined) return undefined;
  const bytes = utf8(json).byteLength;
  if (bytes > KV_LIMITS.maxMetadataBytes) {
    throw kvFailed(
      "PUT",
      413,
      `Metadata length of ${bytes} exceeds limit of ${KV_LIMITS.maxMetadataBytes}.`,
    );
  }
  return json;
}

/** The service's answer to a value over 25 MiB. */
export function valueTooLarge(bytes: number): Error {
  return kvFailed(
    "PUT",
    413,
    `Value length of ${bytes} exceeds limit of ${KV_LIMITS.maxValueBytes}.`,
  );
}

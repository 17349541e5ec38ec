/**
 * Where a bucket's objects live. The binding (`r2-bucket.ts`) checks every argument against
 * R2's limits first; a store keeps bytes and metadata, and decides what R2's server decides
 * (conditions against the current object, multipart rules), atomically. The local store keeps
 * bytes as files and metadata in one SQLite file (`file-r2-store.ts`); a shared backend for the
 * cluster implements the same members. Methods throw `R2Failure` for R2's errors.
 */
import type { ConditionTarget } from "./r2-conditional.ts";
import type { StoredHttpMetadata } from "./r2-http-metadata.ts";

/** An object's metadata, as stored. */
export interface R2ObjectRecord {
  readonly key: string;
  readonly version: string;
  readonly size: number;
  readonly etag: string;
  /** ms since the epoch. */
  readonly uploaded: number;
  readonly httpMetadata: StoredHttpMetadata;
  readonly customMetadata: Record<string, string>;
  /** Algorithm field (`md5`, `sha256`, ...) -> lowercase hex. */
  readonly checksums: Record<string, string>;
}

/** Bytes written by `writeBlob`, not yet part of any object. */
export interface WrittenBlob {
  readonly id: string;
  readonly size: number;
  /** Algorithm field -> lowercase hex, for each algorithm asked for (md5 always). */
  readonly digests: Record<string, string>;
}

/** What `get` decides once it sees the current object: a byte range, or no body. */
export type ReadPlan = { offset: number; length: number } | undefined;

export interface R2ListQuery {
  /** Only keys starting with these UTF-8 bytes. */
  readonly prefix: Uint8Array;
  /** Start at this key (inclusive); from the cursor of the previous page. */
  readonly from: Uint8Array;
  readonly limit: number;
  /** Keys with this after the prefix are rolled up into one delimited prefix. */
  readonly delimiter: Uint8Array | undefined;
  /** Keys after `startAfter` only. */
  readonly startAfter: Uint8Array | undefined;
}

export interface R2ListPage {
  readonly objects: R2ObjectRecord[];
  readonly delimitedPrefixes: string[];
  /** Where the next page starts, when there are more. */
  readonly next: Uint8Array | undefined;
}

export interface R2Store {
  /** The object under `key`, or undefined. */
  head(bucket: string, key: string): Promise<R2ObjectRecord | undefined>;
  /**
   * The object and, when `plan` returns a range, a stream of those bytes: a snapshot of one
   * version (a later put does not change what this stream reads). `plan` may throw.
   */
  get(
    bucket: string,
    key: string,
    plan: (object: R2ObjectRecord) => ReadPlan,
  ): Promise<{ object: R2ObjectRecord; body: ReadableStream<Uint8Array> | undefined } | undefined>;
  /**
   * Writes bytes to stable storage, hashing them with md5 and `algorithms` (node:crypto names),
   * counting them against `maxBytes` (past it: `tooLarge()` is thrown and nothing is kept).
   * Never holds more than one chunk in memory.
   */
  writeBlob(
    source: AsyncIterable<Uint8Array>,
    maxBytes: number,
    algorithms: readonly string[],
    tooLarge: () => Error,
  ): Promise<WrittenBlob>;
  /** Removes a blob no object took. */
  discardBlob(blob: WrittenBlob): Promise<void>;
  /**
   * Makes `blob` the object under `key` if `allowed(current)` holds, atomically; resolves once
   * that is durable, to whether it was stored. The previous version's bytes are removed after.
   */
  putObject(
    bucket: string,
    record: R2ObjectRecord,
    blob: WrittenBlob,
    allowed: (current: ConditionTarget | undefined) => boolean,
  ): Promise<boolean>;
  /** Removes the objects (absent keys are fine), atomically; resolves once durable. */
  delete(bucket: string, keys: readonly string[]): Promise<void>;
  list(bucket: string, query: R2ListQuery): Promise<R2ListPage>;
  /** Starts a multipart upload; resolves to its id once durable. */
  createUpload(
    bucket: string,
    key: string,
    httpMetadata: StoredHttpMetadata,
    customMetadata: Record<string, string>,
  ): Promise<string>;
  /** Records a part (replacing one with the same number); `NoSuchUpload` unless in progress. */
  putPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    blob: WrittenBlob,
    etag: string,
  ): Promise<void>;
  /** Makes the listed parts, in part-number order, the object under `key`, atomically. */
  completeUpload(
    bucket: string,
    key: string,
    uploadId: string,
    parts: readonly { partNumber: number; etag: string }[],
  ): Promise<R2ObjectRecord>;
  /** Drops an upload and its parts (an upload already completed or aborted is fine). */
  abortUpload(bucket: string, key: string, uploadId: string): Promise<void>;
  /** Closes the store; in-flight calls finish first. */
  close(): Promise<void>;
}

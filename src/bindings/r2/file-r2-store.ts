import { createHash, randomBytes } from "node:crypto";
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { immediateTransaction } from "../../core/storage/immediate-transaction.ts";
import { type BlobFiles, type BlobSegment, newBlobId } from "./blob-files.ts";
import type { ConditionTarget } from "./r2-conditional.ts";
import { R2Failure } from "./r2-errors.ts";
import type { StoredHttpMetadata } from "./r2-http-metadata.ts";
import { R2_LIMITS } from "./r2-limits.ts";
import type {
  R2ListPage,
  R2ListQuery,
  R2ObjectRecord,
  R2Store,
  ReadPlan,
  WrittenBlob,
} from "./r2-store.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS r2_objects (
  bucket TEXT NOT NULL,
  key BLOB NOT NULL,
  version TEXT NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  uploaded INTEGER NOT NULL,
  http_metadata TEXT NOT NULL,
  custom_metadata TEXT NOT NULL,
  checksums TEXT NOT NULL,
  segments TEXT NOT NULL,
  PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS r2_uploads (
  upload_id TEXT PRIMARY KEY,
  bucket TEXT NOT NULL,
  key BLOB NOT NULL,
  http_metadata TEXT NOT NULL,
  custom_metadata TEXT NOT NULL,
  state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS r2_parts (
  upload_id TEXT NOT NULL,
  part_number INTEGER NOT NULL,
  blob TEXT NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  md5 TEXT NOT NULL,
  PRIMARY KEY (upload_id, part_number)
);
`;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Row = Record<string, unknown>;

/**
 * Every bucket of a data directory: metadata in one SQLite database (`<dataDir>/r2.sqlite`, keys
 * as UTF-8 blobs so they list in R2's byte order), bytes in files named by random ids
 * (`<dataDir>/r2-blobs/`), so no key, however path-like, is ever a file name. A put writes its
 * file durably first, then commits the record that names it in one transaction (checking the
 * condition against the current record inside it), then removes the replaced files: a crash
 * at any point leaves the previous object or the new one, and at worst a file no record names.
 * Threads open the same database (normal locking, WAL).
 */
export class FileR2Store implements R2Store {
  readonly #db: DatabaseSync;
  readonly #blobs: BlobFiles;
  readonly #durable: () => Promise<void>;
  readonly #close: () => Promise<void>;
  readonly #statements: Record<string, StatementSync>;
  #closed = false;

  /**
   * `durable` resolves once every commit made to `db` so far is on disk; `close` closes `db`
   * and what makes it durable.
   */
  constructor(
    db: DatabaseSync,
    blobs: BlobFiles,
    durable: () => Promise<void>,
    close: () => Promise<void>,
  ) {
    db.exec(SCHEMA);
    this.#db = db;
    this.#blobs = blobs;
    this.#durable = durable;
    this.#close = close;
    this.#statements = {
      head: db.prepare("SELECT * FROM r2_objects WHERE bucket = ? AND key = ?"),
      put: db.prepare(
        `INSERT OR REPLACE INTO r2_objects
         (bucket, key, version, size, etag, uploaded, http_metadata, custom_metadata, checksums, segments)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      delete: db.prepare("DELETE FROM r2_objects WHERE bucket = ? AND key = ? RETURNING segments"),
      list: db.prepare("SELECT * FROM r2_objects WHERE bucket = ? AND key >= ? ORDER BY key"),
      upload: db.prepare("SELECT * FROM r2_uploads WHERE upload_id = ?"),
      createUpload: db.prepare(
        "INSERT INTO r2_uploads (upload_id, bucket, key, http_metadata, custom_metadata, state) VALUES (?, ?, ?, ?, ?, 'in-progress')",
      ),
      setUploadState: db.prepare("UPDATE r2_uploads SET state = ? WHERE upload_id = ?"),
      part: db.prepare("SELECT blob FROM r2_parts WHERE upload_id = ? AND part_number = ?"),
      putPart: db.prepare(
        "INSERT OR REPLACE INTO r2_parts (upload_id, part_number, blob, size, etag, md5) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      parts: db.prepare("SELECT * FROM r2_parts WHERE upload_id = ?"),
      deleteParts: db.prepare("DELETE FROM r2_parts WHERE upload_id = ?"),
      allSegments: db.prepare("SELECT segments FROM r2_objects"),
      allParts: db.prepare("SELECT blob FROM r2_parts"),
    };
  }

  /**
   * Removes blob files no record names (left by a crash mid-write). Call only at startup,
   * before any write: a write in progress has such a file too.
   */
  sweep(): number {
    const named = new Set<string>();
    for (const row of this.#statements.allSegments!.iterate()) {
      for (const segment of JSON.parse(row.segments as string) as BlobSegment[]) {
        named.add(segment.id);
      }
    }
    for (const row of this.#statements.allParts!.iterate()) named.add(row.blob as string);
    return this.#blobs.sweep(named);
  }

  async head(bucket: string, key: string): Promise<R2ObjectRecord | undefined> {
    const row = this.#statements.head!.get(bucket, encoder.encode(key));
    return row === undefined ? undefined : toRecord(row);
  }

  async get(bucket: string, key: string, plan: (object: R2ObjectRecord) => ReadPlan) {
    const row = this.#statements.head!.get(bucket, encoder.encode(key));
    if (row === undefined) return undefined;
    const object = toRecord(row);
    const range = plan(object);
    const body =
      range === undefined
        ? undefined
        : this.#blobs.stream(
            JSON.parse(row.segments as string) as BlobSegment[],
            range.offset,
            range.length,
          );
    return { object, body };
  }

  writeBlob(
    source: AsyncIterable<Uint8Array>,
    maxBytes: number,
    algorithms: readonly string[],
    tooLarge: () => Error,
  ): Promise<WrittenBlob> {
    return this.#blobs.write(source, maxBytes, algorithms, tooLarge);
  }

  async discardBlob(blob: WrittenBlob): Promise<void> {
    await this.#blobs.remove([blob.id]);
  }

  async putObject(
    bucket: string,
    record: R2ObjectRecord,
    blob: WrittenBlob,
    allowed: (current: ConditionTarget | undefined) => boolean,
  ): Promise<boolean> {
    const key = encoder.encode(record.key);
    const replaced = this.#transaction(() => {
      const current = this.#statements.head!.get(bucket, key);
      if (!allowed(current === undefined ? undefined : toRecord(current))) return undefined;
      this.#insert(bucket, key, record, [{ id: blob.id, size: blob.size }]);
      return current === undefined ? [] : segmentIds(current);
    });
    if (replaced === undefined) {
      await this.#blobs.remove([blob.id]);
      return false;
    }
    await this.#durable();
    await this.#blobs.remove(replaced);
    return true;
  }

  async delete(bucket: string, keys: readonly string[]): Promise<void> {
    const removed = this.#transaction(() =>
      keys.flatMap((key) =>
        this.#statements.delete!.all(bucket, encoder.encode(key)).flatMap(segmentIds),
      ),
    );
    if (removed.length === 0) return;
    await this.#durable();
    await this.#blobs.remove(removed);
  }

  async list(bucket: string, query: R2ListQuery): Promise<R2ListPage> {
    const objects: R2ObjectRecord[] = [];
    const delimitedPrefixes: string[] = [];
    let from = max(query.from, query.prefix);
    if (query.startAfter !== undefined && compare(query.startAfter, from) >= 0) {
      from = successor(query.startAfter);
    }
    // Restarted past each rolled-up prefix, so the keys under one are never read one by one.
    scan: for (;;) {
      for (const row of this.#statements.list!.iterate(bucket, from)) {
        const key = row.key as Uint8Array;
        if (!startsWith(key, query.prefix)) break scan;
        if (objects.length + delimitedPrefixes.length === query.limit) {
          return { objects, delimitedPrefixes, next: key };
        }
        const cut =
          query.delimiter === undefined
            ? -1
            : indexOf(key, query.delimiter, query.prefix.byteLength);
        if (cut < 0) {
          objects.push(toRecord(row));
          continue;
        }
        const rolled = key.subarray(0, cut + query.delimiter!.byteLength);
        delimitedPrefixes.push(decoder.decode(rolled));
        from = afterPrefix(rolled);
        continue scan;
      }
      break;
    }
    return { objects, delimitedPrefixes, next: undefined };
  }

  async createUpload(
    bucket: string,
    key: string,
    httpMetadata: StoredHttpMetadata,
    customMetadata: Record<string, string>,
  ): Promise<string> {
    const uploadId = randomBytes(24).toString("base64url");
    this.#statements.createUpload!.run(
      uploadId,
      bucket,
      encoder.encode(key),
      JSON.stringify(httpMetadata),
      JSON.stringify(customMetadata),
    );
    await this.#durable();
    return uploadId;
  }

  async putPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    blob: WrittenBlob,
    etag: string,
  ): Promise<void> {
    let replaced: string[];
    try {
      replaced = this.#transaction(() => {
        const upload = this.#upload(bucket, key, uploadId, "NoSuchUpload");
        if (upload.state !== "in-progress") throw new R2Failure("NoSuchUpload");
        const previous = this.#statements.part!.get(uploadId, partNumber);
        this.#statements.putPart!.run(
          uploadId,
          partNumber,
          blob.id,
          blob.size,
          etag,
          blob.digests.md5!,
        );
        return previous === undefined ? [] : [previous.blob as string];
      });
    } catch (error) {
      await this.#blobs.remove([blob.id]);
      throw error;
    }
    await this.#durable();
    await this.#blobs.remove(replaced);
  }

  async completeUpload(
    bucket: string,
    key: string,
    uploadId: string,
    selected: readonly { partNumber: number; etag: string }[],
  ): Promise<R2ObjectRecord> {
    const keyBytes = encoder.encode(key);
    const { record, removed } = this.#transaction(() => {
      const upload = this.#upload(bucket, key, uploadId, "InternalError");
      if (upload.state !== "in-progress") throw new R2Failure("NoSuchUpload");
      const numbers = new Set<number>();
      for (const { partNumber } of selected) {
        if (numbers.has(partNumber)) throw new R2Failure("InternalError");
        numbers.add(partNumber);
      }
      const uploaded = new Map<number, Row>();
      for (const row of this.#statements.parts!.all(uploadId)) {
        uploaded.set(row.part_number as number, row);
      }
      const parts = selected.map(({ partNumber, etag }) => {
        const row = uploaded.get(partNumber);
        if (row === undefined || row.etag !== etag) throw new R2Failure("InvalidPart");
        return row;
      });
      checkPartSizes(parts);
      parts.sort((a, b) => (a.part_number as number) - (b.part_number as number));
      const current = this.#statements.head!.get(bucket, keyBytes);
      const record: R2ObjectRecord = {
        key,
        version: newBlobId(),
        size: parts.reduce((sum, part) => sum + (part.size as number), 0),
        etag: multipartEtag(parts.map((part) => part.md5 as string)),
        uploaded: Date.now(),
        httpMetadata: JSON.parse(upload.http_metadata as string),
        customMetadata: JSON.parse(upload.custom_metadata as string),
        checksums: {},
      };
      this.#insert(
        bucket,
        keyBytes,
        record,
        parts.map((part) => ({ id: part.blob as string, size: part.size as number })),
      );
      // Parts not chosen are dropped; the chosen ones now belong to the object.
      const chosen = new Set(parts.map((part) => part.blob as string));
      const unused = [...uploaded.values()]
        .map((part) => part.blob as string)
        .filter((blob) => !chosen.has(blob));
      this.#statements.deleteParts!.run(uploadId);
      this.#statements.setUploadState!.run("completed", uploadId);
      return {
        record,
        removed: [...unused, ...(current === undefined ? [] : segmentIds(current))],
      };
    });
    await this.#durable();
    await this.#blobs.remove(removed);
    return record;
  }

  async abortUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    const removed = this.#transaction(() => {
      const upload = this.#upload(bucket, key, uploadId, "InternalError");
      if (upload.state !== "in-progress") return [];
      const blobs = this.#statements.parts!.all(uploadId).map((part) => part.blob as string);
      this.#statements.deleteParts!.run(uploadId);
      this.#statements.setUploadState!.run("aborted", uploadId);
      return blobs;
    });
    await this.#durable();
    await this.#blobs.remove(removed);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#close();
  }

  /** The upload, which must be of this bucket and key; otherwise `missing`. */
  #upload(
    bucket: string,
    key: string,
    uploadId: string,
    missing: "NoSuchUpload" | "InternalError",
  ): Row {
    const upload = this.#statements.upload!.get(uploadId);
    if (
      upload === undefined ||
      upload.bucket !== bucket ||
      decoder.decode(upload.key as Uint8Array) !== key
    ) {
      throw new R2Failure(missing);
    }
    return upload;
  }

  #insert(bucket: string, key: Uint8Array, record: R2ObjectRecord, segments: BlobSegment[]): void {
    this.#statements.put!.run(
      bucket,
      key,
      record.version,
      record.size,
      record.etag,
      record.uploaded,
      JSON.stringify(record.httpMetadata),
      JSON.stringify(record.customMetadata),
      JSON.stringify(record.checksums),
      JSON.stringify(segments),
    );
  }

  /** Runs `fn` in one write transaction (waiting for another thread's), rolled back if it throws. */
  #transaction<T>(fn: () => T): T {
    return immediateTransaction(this.#db, fn);
  }
}

/** Every part but the last at least 5 MiB, all of one size, the last no larger (R2's rules). */
function checkPartSizes(parts: Row[]): void {
  for (const part of parts.slice(0, -1)) {
    if ((part.size as number) < R2_LIMITS.minPartBytes) throw new R2Failure("EntityTooSmall");
  }
  const ordered = [...parts].sort((a, b) => (a.part_number as number) - (b.part_number as number));
  let size: number | undefined;
  for (const part of ordered.slice(0, -1)) {
    size ??= part.size as number;
    if ((part.size as number) < R2_LIMITS.minPartBytes || part.size !== size) {
      throw new R2Failure("BadUpload");
    }
  }
  if (size !== undefined && (ordered.at(-1)!.size as number) > size) {
    throw new R2Failure("BadUpload");
  }
}

/** The md5 of the parts' md5s, then `-<count>`, as S3 and R2 make a multipart ETag. */
function multipartEtag(md5s: string[]): string {
  const hash = createHash("md5");
  for (const md5 of md5s) hash.update(Buffer.from(md5, "hex"));
  return `${hash.digest("hex")}-${md5s.length}`;
}

function toRecord(row: Row): R2ObjectRecord {
  return {
    key: decoder.decode(row.key as Uint8Array),
    version: row.version as string,
    size: row.size as number,
    etag: row.etag as string,
    uploaded: row.uploaded as number,
    httpMetadata: JSON.parse(row.http_metadata as string),
    customMetadata: JSON.parse(row.custom_metadata as string),
    checksums: JSON.parse(row.checksums as string),
  };
}

function segmentIds(row: Row): string[] {
  return (JSON.parse(row.segments as string) as BlobSegment[]).map((segment) => segment.id);
}

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.byteLength < prefix.byteLength) return false;
  for (let i = 0; i < prefix.byteLength; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

function indexOf(key: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i + needle.byteLength <= key.byteLength; i++) {
    for (let j = 0; j < needle.byteLength; j++) if (key[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function compare(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

function max(a: Uint8Array, b: Uint8Array): Uint8Array {
  return compare(a, b) >= 0 ? a : b;
}

/** The smallest key greater than `key`. */
function successor(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.byteLength + 1);
  next.set(key);
  return next;
}

/** The smallest key greater than every key starting with `prefix`. */
function afterPrefix(prefix: Uint8Array): Uint8Array {
  const next = Uint8Array.from(prefix);
  for (let i = next.byteLength - 1; i >= 0; i--) {
    if (next[i]! < 0xff) {
      next[i]!++;
      return next.subarray(0, i + 1);
    }
  }
  // Only 0xff bytes: nothing sorts after every key under it but the end.
  return new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff]);
}

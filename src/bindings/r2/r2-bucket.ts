import { readFromCurrent, sendFromCurrent } from "../../core/gates/context.ts";
import { checkCondition, conditionHolds, parseCondition } from "./r2-conditional.ts";
import { asR2Call, badDigest, R2Failure } from "./r2-errors.ts";
import { parseCustomMetadata, parseHttpMetadata } from "./r2-http-metadata.ts";
import { checkMetadataSize, keyBytes, R2_LIMITS } from "./r2-limits.ts";
import { R2MultipartUpload } from "./r2-multipart.ts";
import { R2Object, R2ObjectBody, type R2Range } from "./r2-object.ts";
import { parseRange } from "./r2-range.ts";
import type { R2ObjectRecord, R2Store } from "./r2-store.ts";
import { givenChecksum, tooLarge, valueChunks } from "./r2-value.ts";

/** Where a bucket binding keeps its objects. */
export interface R2BucketSetup {
  readonly store: () => Promise<R2Store>;
  /** The bucket's name (`r2_buckets[].bucket_name`, or its binding name without one). */
  readonly bucket: string;
}

export interface R2ListOptions {
  limit?: number;
  prefix?: string;
  cursor?: string;
  delimiter?: string;
  startAfter?: string;
  include?: ("httpMetadata" | "customMetadata")[];
}

export interface R2Objects {
  objects: R2Object[];
  delimitedPrefixes: string[];
  truncated: boolean;
  cursor?: string;
}

const encoder = new TextEncoder();

/**
 * An R2 bucket binding (`env.BUCKET`), with Cloudflare's API, limits and error texts. Objects
 * stream in and out: a `put` of a stream or a `get` of a large object never holds the object
 * in memory. Calls are I/O of the caller: from a Durable Object, results come back through its
 * input gate, and a write leaves once the object's own writes are durable (its output gate).
 *
 * @example
 * await env.BUCKET.put("photos/1.jpg", request.body, { httpMetadata: request.headers });
 * const photo = await env.BUCKET.get("photos/1.jpg", { range: { offset: 0, length: 1024 } });
 */
export class R2Bucket {
  readonly #setup: R2BucketSetup;

  constructor(setup: R2BucketSetup) {
    this.#setup = setup;
  }

  /** The object's metadata, or `null` when there is none. */
  head(key: string): Promise<R2Object | null> {
    return readFromCurrent(() =>
      asR2Call("head", async () => {
        keyBytes(String(key));
        const record = await (await this.#store()).head(this.#setup.bucket, String(key));
        return record === undefined ? null : new R2Object(record);
      }),
    );
  }

  /**
   * The object with its body (a range of it with `range`), `null` when there is none, or the
   * object without a body when `onlyIf` does not hold.
   */
  get(key: string, options?: { range?: unknown }): Promise<R2ObjectBody | null>;
  get(
    key: string,
    options: { onlyIf?: unknown; range?: unknown },
  ): Promise<R2ObjectBody | R2Object | null>;
  get(
    key: string,
    options: { onlyIf?: unknown; range?: unknown } = {},
  ): Promise<R2ObjectBody | R2Object | null> {
    return readFromCurrent(() =>
      asR2Call("get", async () => {
        keyBytes(String(key));
        const condition = parseCondition(options?.onlyIf);
        let range: R2Range | undefined;
        const found = await (await this.#store()).get(this.#setup.bucket, String(key), (object) => {
          if (condition !== undefined && !conditionHolds(condition, object)) return undefined;
          const planned = parseRange(options?.range, object.size);
          range = { offset: planned.offset, length: planned.length };
          return planned;
        });
        if (found === undefined) return null;
        if (found.body === undefined) return new R2Object(found.object);
        return new R2ObjectBody(found.object, found.body, range);
      }),
    );
  }

  /**
   * Stores `value` under `key` and resolves to its metadata once durable, or to `null` when
   * `onlyIf` does not hold (nothing is stored then).
   */
  put(
    key: string,
    value: unknown,
    options: {
      onlyIf?: unknown;
      httpMetadata?: unknown;
      customMetadata?: unknown;
      md5?: unknown;
      sha1?: unknown;
      sha256?: unknown;
      sha384?: unknown;
      sha512?: unknown;
      storageClass?: string;
    } = {},
  ): Promise<R2Object | null> {
    return sendFromCurrent(() =>
      asR2Call("put", async () => {
        const name = String(key);
        keyBytes(name);
        const chunks = valueChunks(value, "put");
        const given = givenChecksum((options ?? {}) as Record<string, unknown>);
        const httpMetadata = parseHttpMetadata(options?.httpMetadata);
        const customMetadata = parseCustomMetadata(options?.customMetadata);
        checkMetadataSize(customMetadata);
        const condition = parseCondition(options?.onlyIf);
        const store = await this.#store();
        const blob = await store.writeBlob(
          chunks,
          R2_LIMITS.maxPutBytes,
          given === undefined || given.spec.algorithm === "md5" ? [] : [given.spec.algorithm],
          tooLarge,
        );
        const checksums: Record<string, string> = { md5: blob.digests.md5! };
        if (given !== undefined) {
          const actual = blob.digests[given.spec.algorithm]!;
          if (actual !== given.hex) {
            await store.discardBlob(blob);
            throw badDigest(given.spec.name, given.hex, actual);
          }
          checksums[given.spec.field] = actual;
        }
        const record: R2ObjectRecord = {
          key: name,
          version: crypto.randomUUID().replaceAll("-", ""),
          size: blob.size,
          etag: blob.digests.md5!,
          uploaded: Date.now(),
          httpMetadata,
          customMetadata,
          checksums,
        };
        const stored = await store.putObject(this.#setup.bucket, record, blob, (current) => {
          if (condition === undefined) return true;
          try {
            checkCondition(condition, current);
            return true;
          } catch {
            return false;
          }
        });
        return stored ? new R2Object(record) : null;
      }),
    );
  }

  /** Removes one key or up to 1000 keys at once; absent keys are fine. */
  delete(keys: string | string[]): Promise<void> {
    return sendFromCurrent(() =>
      asR2Call("delete", async () => {
        const list = (Array.isArray(keys) ? keys : [keys]).map(String);
        if (list.length > R2_LIMITS.maxDeleteKeys) {
          throw new R2Failure(
            "InternalError",
            `You can delete up to ${R2_LIMITS.maxDeleteKeys} keys at once; split the list.`,
          );
        }
        for (const key of list) keyBytes(key);
        await (await this.#store()).delete(this.#setup.bucket, list);
      }),
    );
  }

  /** A page of objects in key order (UTF-8 bytes), and the prefixes `delimiter` rolled up. */
  list(options: R2ListOptions = {}): Promise<R2Objects> {
    return readFromCurrent(() =>
      asR2Call("list", async () => {
        const limit = options?.limit ?? R2_LIMITS.maxListKeys;
        if (!Number.isInteger(limit) || limit < 1 || limit > R2_LIMITS.maxListKeys) {
          throw new R2Failure("InvalidMaxKeys");
        }
        const include = new Set(options?.include ?? []);
        for (const field of include) {
          if (field !== "httpMetadata" && field !== "customMetadata") {
            throw new TypeError(
              `include must name only "httpMetadata" and "customMetadata", not "${String(field)}".`,
            );
          }
        }
        const page = await (await this.#store()).list(this.#setup.bucket, {
          prefix: encoder.encode(options?.prefix ?? ""),
          from:
            options?.cursor === undefined || options.cursor === ""
              ? new Uint8Array(0)
              : new Uint8Array(Buffer.from(options.cursor, "base64url")),
          limit,
          delimiter:
            options?.delimiter === undefined || options.delimiter === ""
              ? undefined
              : encoder.encode(options.delimiter),
          startAfter:
            options?.startAfter === undefined ? undefined : encoder.encode(options.startAfter),
        });
        const shown = {
          http: include.has("httpMetadata"),
          custom: include.has("customMetadata"),
        };
        const result: R2Objects = {
          objects: page.objects.map((record) => new R2Object(record, undefined, shown)),
          delimitedPrefixes: page.delimitedPrefixes,
          truncated: page.next !== undefined,
        };
        if (page.next !== undefined) result.cursor = Buffer.from(page.next).toString("base64url");
        return result;
      }),
    );
  }

  /** Starts a multipart upload of `key`, with the object's metadata. */
  createMultipartUpload(
    key: string,
    options: { httpMetadata?: unknown; customMetadata?: unknown; storageClass?: string } = {},
  ): Promise<R2MultipartUpload> {
    return sendFromCurrent(() =>
      asR2Call("createMultipartUpload", async () => {
        const name = String(key);
        keyBytes(name);
        const httpMetadata = parseHttpMetadata(options?.httpMetadata);
        const customMetadata = parseCustomMetadata(options?.customMetadata);
        checkMetadataSize(customMetadata);
        const uploadId = await (await this.#store()).createUpload(
          this.#setup.bucket,
          name,
          httpMetadata,
          customMetadata,
        );
        return this.resumeMultipartUpload(name, uploadId);
      }),
    );
  }

  /** The upload `uploadId` of `key`, to add parts to, complete or abort (checked when used). */
  resumeMultipartUpload(key: string, uploadId: string): R2MultipartUpload {
    return new R2MultipartUpload({
      key: String(key),
      uploadId: String(uploadId),
      bucket: this.#setup.bucket,
      store: () => this.#store(),
    });
  }

  #store(): Promise<R2Store> {
    return this.#setup.store();
  }
}

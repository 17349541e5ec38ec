import { type R2HTTPMetadata, showHttpMetadata, writeHttpMetadata } from "./r2-http-metadata.ts";
import type { R2ObjectRecord } from "./r2-store.ts";

/** The byte range an `R2ObjectBody` holds. */
export type R2Range = { offset: number; length: number } | { suffix: number };

/** An object's checksums: the ones R2 knows, as ArrayBuffers. */
export class R2Checksums {
  readonly md5?: ArrayBuffer;
  readonly sha1?: ArrayBuffer;
  readonly sha256?: ArrayBuffer;
  readonly sha384?: ArrayBuffer;
  readonly sha512?: ArrayBuffer;
  readonly #hex: Record<string, string>;

  constructor(hex: Record<string, string>) {
    this.#hex = hex;
    for (const [field, value] of Object.entries(hex)) {
      const bytes = Buffer.from(value, "hex");
      (this as Record<string, unknown>)[field] = bytes.buffer.slice(
        bytes.byteOffset,
        bytes.byteOffset + bytes.byteLength,
      );
    }
  }

  /** The checksums as hex strings. */
  toJSON(): Record<string, string> {
    return { ...this.#hex };
  }
}

/**
 * An object's metadata, as `head`, `put`, `list` and a `get` whose condition failed give it.
 *
 * @example
 * const object = await env.BUCKET.head("photo.jpg");
 * object?.writeHttpMetadata(headers);
 */
export class R2Object {
  readonly key: string;
  readonly version: string;
  readonly size: number;
  readonly etag: string;
  /** The ETag quoted, as an HTTP `ETag` header carries it. */
  readonly httpEtag: string;
  readonly checksums: R2Checksums;
  readonly uploaded: Date;
  readonly httpMetadata: R2HTTPMetadata | undefined;
  readonly customMetadata: Record<string, string> | undefined;
  readonly range: R2Range | undefined;
  readonly storageClass = "Standard";
  readonly #record: R2ObjectRecord;

  constructor(
    record: R2ObjectRecord,
    range?: R2Range,
    include: { http: boolean; custom: boolean } = { http: true, custom: true },
  ) {
    this.#record = record;
    this.key = record.key;
    this.version = record.version;
    this.size = record.size;
    this.etag = record.etag;
    this.httpEtag = `"${record.etag}"`;
    this.checksums = new R2Checksums(record.checksums);
    this.uploaded = new Date(record.uploaded);
    this.httpMetadata = include.http ? showHttpMetadata(record.httpMetadata) : undefined;
    this.customMetadata = include.custom ? { ...record.customMetadata } : undefined;
    this.range = range;
  }

  /** Sets `Content-Type`, `Cache-Control` and the other headers of `httpMetadata` on `headers`. */
  writeHttpMetadata(headers: Headers): void {
    writeHttpMetadata(this.#record.httpMetadata, headers);
  }
}

/** An object with its bytes (`get`): `body` streams them, once. */
export class R2ObjectBody extends R2Object {
  readonly #body: ReadableStream<Uint8Array>;

  constructor(record: R2ObjectRecord, body: ReadableStream<Uint8Array>, range?: R2Range) {
    super(record, range);
    this.#body = body;
  }

  get body(): ReadableStream<Uint8Array> {
    return this.#body;
  }

  get bodyUsed(): boolean {
    return this.#body.locked;
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return new Response(this.#body).arrayBuffer();
  }

  async bytes(): Promise<Uint8Array> {
    return new Uint8Array(await this.arrayBuffer());
  }

  text(): Promise<string> {
    return new Response(this.#body).text();
  }

  json<T>(): Promise<T> {
    return new Response(this.#body).json() as Promise<T>;
  }

  blob(): Promise<Blob> {
    return new Response(this.#body).blob();
  }
}

import { sendFromCurrent } from "../../core/gates/context.ts";
import { asR2Call } from "./r2-errors.ts";
import { keyBytes, R2_LIMITS } from "./r2-limits.ts";
import { R2Object } from "./r2-object.ts";
import type { R2Store } from "./r2-store.ts";
import { tooLarge, valueChunks } from "./r2-value.ts";

/** A part as `uploadPart` returns it and `complete` takes it. */
export interface R2UploadedPart {
  partNumber: number;
  etag: string;
}

/** What an upload handle needs. */
export interface R2MultipartSetup {
  readonly key: string;
  readonly uploadId: string;
  readonly bucket: string;
  readonly store: () => Promise<R2Store>;
}

/**
 * A multipart upload (`createMultipartUpload`, `resumeMultipartUpload`): parts are stored as
 * they arrive; `complete` makes the chosen ones the object in one step, so readers see the old
 * object or the whole new one, never a part of it.
 *
 * @example
 * const upload = await env.BUCKET.createMultipartUpload("video.mp4");
 * const parts = [await upload.uploadPart(1, chunk1), await upload.uploadPart(2, chunk2)];
 * const object = await upload.complete(parts);
 */
export class R2MultipartUpload {
  readonly key: string;
  readonly uploadId: string;
  readonly #setup: R2MultipartSetup;

  constructor(setup: R2MultipartSetup) {
    this.key = setup.key;
    this.uploadId = setup.uploadId;
    this.#setup = setup;
  }

  /** Stores part `partNumber` (1 to 10000; again replaces it); resolves to its etag. */
  uploadPart(partNumber: number, value: unknown): Promise<R2UploadedPart> {
    return sendFromCurrent(() =>
      asR2Call("uploadPart", async () => {
        if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > R2_LIMITS.maxParts) {
          throw new TypeError(
            `Part number must be between 1 and 10000 (inclusive). Actual value was: ${partNumber}`,
          );
        }
        keyBytes(this.key);
        const chunks = valueChunks(value, "uploadPart");
        const store = await this.#setup.store();
        const blob = await store.writeBlob(chunks, R2_LIMITS.maxPartBytes, [], tooLarge);
        const etag = crypto.randomUUID().replaceAll("-", "");
        await store.putPart(this.#setup.bucket, this.key, this.uploadId, partNumber, blob, etag);
        return { partNumber, etag };
      }),
    );
  }

  /** Makes `parts` (in part-number order) the object; resolves to it once durable. */
  complete(parts: R2UploadedPart[]): Promise<R2Object> {
    return sendFromCurrent(() =>
      asR2Call("completeMultipartUpload", async () => {
        keyBytes(this.key);
        if (!Array.isArray(parts)) throw new TypeError("complete() takes an array of parts.");
        const chosen = parts.map((part) => {
          if (
            part === null ||
            typeof part !== "object" ||
            typeof part.partNumber !== "number" ||
            typeof part.etag !== "string"
          ) {
            throw new TypeError(
              "Each part must be { partNumber, etag }, as uploadPart() returned it.",
            );
          }
          return { partNumber: part.partNumber, etag: part.etag };
        });
        const record = await (await this.#setup.store()).completeUpload(
          this.#setup.bucket,
          this.key,
          this.uploadId,
          chosen,
        );
        return new R2Object(record);
      }),
    );
  }

  /** Drops the upload and its parts. */
  abort(): Promise<void> {
    return sendFromCurrent(() =>
      asR2Call("abortMultipartUpload", async () => {
        keyBytes(this.key);
        await (await this.#setup.store()).abortUpload(this.#setup.bucket, this.key, this.uploadId);
      }),
    );
  }
}

/**
 * Workers' byte streams: `IdentityTransformStream` passes bytes through unchanged, and
 * `FixedLengthStream` does the same but insists on an exact byte count (on Cloudflare a body
 * made from one gets a `Content-Length`, and here too: `body-length.ts`).
 */
import { setBodyLength } from "../body-length.ts";

/** A byte chunk's bytes (no copy), or undefined for a chunk that is not bytes. */
export function chunkBytes(chunk: unknown): Uint8Array | undefined {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) {
    return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  return undefined;
}

function bytesOf(chunk: unknown): Uint8Array {
  const bytes = chunkBytes(chunk);
  if (bytes !== undefined) return bytes;
  throw new TypeError(
    "This TransformStream is being used as a byte stream, but received an object of non-ArrayBuffer/ArrayBufferView type on its writable side.",
  );
}

/** A TransformStream whose readable side gives back exactly the bytes written to it. */
export class IdentityTransformStream extends TransformStream<
  ArrayBufferView | ArrayBuffer,
  Uint8Array
> {
  constructor(options?: { highWaterMark?: number }) {
    super(
      { transform: (chunk, controller) => controller.enqueue(bytesOf(chunk)) },
      { highWaterMark: options?.highWaterMark ?? 0 },
    );
  }
}

/** An identity byte stream that fails unless exactly `expectedLength` bytes pass through it. */
export class FixedLengthStream extends TransformStream<ArrayBufferView | ArrayBuffer, Uint8Array> {
  readonly expectedLength: number;

  constructor(expectedLength: number | bigint, options?: { highWaterMark?: number }) {
    const expected = Number(expectedLength);
    if (!Number.isSafeInteger(expected) || expected < 0) {
      throw new TypeError("FixedLengthStream requires a non-negative integer expected length.");
    }
    let seen = 0;
    super(
      {
        transform(chunk, controller) {
          const bytes = bytesOf(chunk);
          seen += bytes.byteLength;
          if (seen > expected) {
            throw new TypeError("Attempt to write too many bytes through a FixedLengthStream.");
          }
          controller.enqueue(bytes);
        },
        flush() {
          if (seen < expected) {
            throw new TypeError("FixedLengthStream did not see all expected bytes before close().");
          }
        },
      },
      { highWaterMark: options?.highWaterMark ?? 0 },
    );
    this.expectedLength = expected;
    setBodyLength(this.readable, expected);
  }
}

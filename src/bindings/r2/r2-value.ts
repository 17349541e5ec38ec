import { R2Failure } from "./r2-errors.ts";

const encoder = new TextEncoder();

/** What `put` and `uploadPart` accept as a value. */
export type R2PutValue = ReadableStream | ArrayBuffer | ArrayBufferView | string | Blob | null;

/**
 * The value's bytes as chunks, never all of a stream at once. Bytes given whole are copied now,
 * so changing the buffer after the call changes nothing stored.
 */
export function valueChunks(
  value: unknown,
  method: "put" | "uploadPart",
): AsyncIterable<Uint8Array> {
  if (value === null || value === undefined) return chunksOf([]);
  if (typeof value === "string") return chunksOf([encoder.encode(value)]);
  if (value instanceof ArrayBuffer) return chunksOf([new Uint8Array(value.slice(0))]);
  if (ArrayBuffer.isView(value)) {
    return chunksOf([new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice()]);
  }
  if (value instanceof Blob) return streamChunks(value.stream());
  if (value instanceof ReadableStream) return streamChunks(value);
  throw new TypeError(
    `R2 ${method}() accepts only nulls, strings, Blobs, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values.`,
  );
}

async function* chunksOf(chunks: Uint8Array[]): AsyncIterable<Uint8Array> {
  yield* chunks;
}

async function* streamChunks(stream: ReadableStream): AsyncIterable<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (value instanceof Uint8Array) yield value;
      else if (ArrayBuffer.isView(value)) {
        yield new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      } else if (value instanceof ArrayBuffer) yield new Uint8Array(value);
      else throw new TypeError("This ReadableStream did not return bytes.");
    }
  } finally {
    reader.releaseLock();
  }
}

/** The put options that carry a checksum, with node:crypto's names and the byte length each takes. */
export const CHECKSUMS = [
  { field: "md5", name: "MD5", algorithm: "md5", bytes: 16 },
  { field: "sha1", name: "SHA-1", algorithm: "sha1", bytes: 20 },
  { field: "sha256", name: "SHA-256", algorithm: "sha256", bytes: 32 },
  { field: "sha384", name: "SHA-384", algorithm: "sha384", bytes: 48 },
  { field: "sha512", name: "SHA-512", algorithm: "sha512", bytes: 64 },
] as const;

export type ChecksumSpec = (typeof CHECKSUMS)[number];

/** The one checksum `put` was given (hex), if any; a wrong length or several are TypeErrors. */
export function givenChecksum(
  options: Record<string, unknown>,
): { spec: ChecksumSpec; hex: string } | undefined {
  let given: { spec: ChecksumSpec; hex: string } | undefined;
  for (const spec of CHECKSUMS) {
    const value = options[spec.field];
    if (value === undefined) continue;
    if (given !== undefined) {
      throw new TypeError("You cannot specify multiple hashing algorithms.");
    }
    let bytes: Uint8Array;
    if (typeof value === "string") {
      if (!/^[0-9a-fA-F]*$/.test(value) || value.length % 2 !== 0) {
        throw new TypeError(`${spec.name} must be a hex string or an ArrayBuffer.`);
      }
      bytes = Buffer.from(value, "hex");
    } else if (value instanceof ArrayBuffer) bytes = new Uint8Array(value);
    else if (ArrayBuffer.isView(value)) {
      bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    } else throw new TypeError(`${spec.name} must be a hex string or an ArrayBuffer.`);
    if (bytes.byteLength !== spec.bytes) {
      throw new TypeError(`${spec.name} is ${spec.bytes} bytes, not ${bytes.byteLength}`);
    }
    given = { spec, hex: Buffer.from(bytes).toString("hex") };
  }
  return given;
}

/** R2's error for a value over `limit` bytes. */
export function tooLarge(): R2Failure {
  return new R2Failure("EntityTooLarge");
}

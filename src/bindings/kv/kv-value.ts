import { KV_LIMITS, utf8, valueTooLarge } from "./kv-limits.ts";

const NOT_A_VALUE =
  "KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values.";

/** Refuses a value `put` cannot store, before anything else is checked (as the runtime does). */
export function checkValueType(value: unknown): void {
  if (
    value !== null &&
    typeof value === "object" &&
    !(value instanceof ArrayBuffer) &&
    !ArrayBuffer.isView(value) &&
    !(value instanceof ReadableStream)
  ) {
    throw new TypeError(NOT_A_VALUE);
  }
}

/**
 * The bytes of a value given to `put`, at most 25 MiB. A stream is read to its end (so the error
 * names its whole length, as Cloudflare's does) but bytes past the limit are dropped as they
 * arrive: memory stays bounded by the limit whatever the stream holds.
 */
export async function valueBytes(value: unknown): Promise<Uint8Array> {
  let bytes: Uint8Array;
  if (typeof value === "string") bytes = utf8(value);
  else if (value instanceof ArrayBuffer) bytes = new Uint8Array(value.slice(0));
  else if (ArrayBuffer.isView(value)) {
    bytes = new Uint8Array(
      value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength),
    );
  } else if (value instanceof ReadableStream) return streamBytes(value);
  else if (value !== null && typeof value === "object") throw new TypeError(NOT_A_VALUE);
  // Primitives are converted to strings, as the Workers runtime converts them.
  else bytes = utf8(String(value));
  if (bytes.byteLength > KV_LIMITS.maxValueBytes) throw valueTooLarge(bytes.byteLength);
  return bytes;
}

async function streamBytes(stream: ReadableStream): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of stream as AsyncIterable<unknown>) {
    if (!(chunk instanceof Uint8Array)) {
      throw new TypeError("This ReadableStream did not return bytes.");
    }
    length += chunk.byteLength;
    if (length <= KV_LIMITS.maxValueBytes) chunks.push(chunk);
    else chunks.length = 0;
  }
  if (length > KV_LIMITS.maxValueBytes) throw valueTooLarge(length);
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** The value types `get` returns. */
export type KvValueType = "text" | "json" | "arrayBuffer" | "stream";

const decoder = new TextDecoder();

/** A stored value as `get` returns it for `type`. */
export function decodeValue(bytes: Uint8Array, type: string): unknown {
  switch (type) {
    case "text":
      return decoder.decode(bytes);
    case "json":
      return JSON.parse(decoder.decode(bytes));
    case "arrayBuffer":
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    case "stream":
      return new ReadableStream<Uint8Array>({
        type: "bytes",
        start(controller) {
          if (bytes.byteLength > 0) controller.enqueue(bytes.slice());
          controller.close();
        },
      });
    default:
      throw new TypeError(
        'Unknown response type. Possible types are "text", "arrayBuffer", "json", and "stream".',
      );
  }
}

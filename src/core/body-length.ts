/**
 * Streams whose byte count is known before they are read: the readable side of a
 * `FixedLengthStream`, an R2 object's body. A Response made from one is sent with that
 * `Content-Length` instead of chunked encoding, as Cloudflare sends it.
 */
const lengths = new WeakMap<ReadableStream, number>();

/** Records that `stream` will give exactly `length` bytes (the stream itself enforces it). */
export function setBodyLength(stream: ReadableStream, length: number): void {
  lengths.set(stream, length);
}

/** The byte count `stream` was declared to give, if any. */
export function bodyLength(stream: ReadableStream): number | undefined {
  return lengths.get(stream);
}

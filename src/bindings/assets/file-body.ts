import { open, readFile } from "node:fs/promises";

/** Files up to this size are read whole; larger ones stream. */
const READ_WHOLE_BYTES = 64 * 1024;
const CHUNK_BYTES = 64 * 1024;

/**
 * The bytes `start` to `end` (inclusive) of the file at `path`, as a body. A small file is read
 * at once; a larger one streams in 64 KiB chunks from a descriptor opened on the first read and
 * closed at the end or on cancel, so a body nobody reads holds no descriptor.
 */
export async function fileBody(
  path: string,
  start: number,
  end: number,
): Promise<Uint8Array | ReadableStream<Uint8Array>> {
  const length = end - start + 1;
  if (length <= READ_WHOLE_BYTES) {
    if (start === 0) {
      const whole = await readFile(path);
      return whole.byteLength === length ? whole : whole.subarray(0, length);
    }
    const handle = await open(path, "r");
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, start);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  let position = start;
  const close = async () => {
    const opened = handle;
    handle = undefined;
    await opened?.close();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        handle ??= await open(path, "r");
        const want = Math.min(CHUNK_BYTES, end + 1 - position);
        const buffer = Buffer.allocUnsafe(want);
        const { bytesRead } = await handle.read(buffer, 0, want, position);
        position += bytesRead;
        if (bytesRead > 0) controller.enqueue(buffer.subarray(0, bytesRead));
        if (bytesRead === 0 || position > end) {
          await close();
          controller.close();
        }
      } catch (error) {
        await close().catch(() => {});
        controller.error(error);
      }
    },
    cancel: close,
  });
}

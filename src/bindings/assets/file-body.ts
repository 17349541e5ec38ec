import { readFile } from "node:fs/promises";
import {
  closeDescriptor,
  closeWhenDropped,
  openDescriptor,
  readDescriptor,
} from "../file-descriptors.ts";

/** Files up to this size are read whole; larger ones stream. */
const READ_WHOLE_BYTES = 64 * 1024;
const CHUNK_BYTES = 64 * 1024;

/**
 * The bytes `start` to `end` (inclusive) of the file at `path`, as a body. A small file is read
 * at once; a larger one streams in 64 KiB chunks from a descriptor opened on the first read and
 * closed at the end, on cancel, or when the body is garbage collected half read.
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
    const fd = await openDescriptor(path, "r");
    try {
      const buffer = Buffer.alloc(length);
      const bytesRead = await readDescriptor(fd, buffer, 0, length, start);
      return buffer.subarray(0, bytesRead);
    } finally {
      await closeDescriptor(fd);
    }
  }
  let fd: number | undefined;
  let forget = () => {};
  let position = start;
  const release = async () => {
    const opened = fd;
    fd = undefined;
    if (opened === undefined) return;
    forget();
    await closeDescriptor(opened);
  };
  const stream: ReadableStream<Uint8Array> = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          if (fd === undefined) {
            fd = await openDescriptor(path, "r");
            forget = closeWhenDropped(stream, fd);
          }
          const want = Math.min(CHUNK_BYTES, end + 1 - position);
          const buffer = Buffer.allocUnsafe(want);
          const bytesRead = await readDescriptor(fd, buffer, 0, want, position);
          position += bytesRead;
          if (bytesRead > 0) controller.enqueue(buffer.subarray(0, bytesRead));
          if (bytesRead === 0 || position > end) {
            await release();
            controller.close();
          }
        } catch (error) {
          await release().catch(() => {});
          controller.error(error);
        }
      },
      cancel: release,
    },
    // Nothing is read, and no descriptor opened, before somebody asks for the body.
    { highWaterMark: 0 },
  );
  return stream;
}

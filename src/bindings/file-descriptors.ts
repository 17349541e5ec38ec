import { close, open, read } from "node:fs";
import { promisify } from "node:util";

/**
 * Plain descriptors for the bodies the bindings stream from files (assets, R2), not FileHandles:
 * Node ends the process when a FileHandle is left to the garbage collector, and a body is often
 * dropped half read (a Worker that checks `env.BUCKET.get(key)` and answers something else, a
 * client gone mid-download).
 */
export const openDescriptor: (path: string, flags: string) => Promise<number> = promisify(open);

export const closeDescriptor: (fd: number) => Promise<void> = promisify(close);

/** Reads up to `length` bytes at `position` into `buffer` at `offset`; resolves to the count. */
export function readDescriptor(
  fd: number,
  buffer: Uint8Array,
  offset: number,
  length: number,
  position: number,
): Promise<number> {
  return new Promise((resolve, reject) =>
    read(fd, buffer, offset, length, position, (error, bytesRead) =>
      error === null ? resolve(bytesRead) : reject(error),
    ),
  );
}

const dropped = new FinalizationRegistry<number>((fd) => close(fd, () => {}));

/**
 * Closes `fd` once `owner` (the body reading it) is garbage collected. Call the function it
 * returns when the descriptor is closed the ordinary way, so a reused number is never closed.
 */
export function closeWhenDropped(owner: object, fd: number): () => void {
  const token = {};
  dropped.register(owner, fd, token);
  return () => dropped.unregister(token);
}

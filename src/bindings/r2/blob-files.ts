import { createHash, randomBytes } from "node:crypto";
import { openSync, readdirSync, unlinkSync } from "node:fs";
import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { setBodyLength } from "../../core/body-length.ts";
import {
  closeDescriptor,
  closeWhenDropped,
  openDescriptor,
  readDescriptor,
} from "../file-descriptors.ts";
import type { WrittenBlob } from "./r2-store.ts";

/** Bytes read from a blob file per chunk of an object's stream. */
const READ_CHUNK = 64 * 1024;

/** One file of an object's bytes (a whole object, or one part of a multipart object). */
export interface BlobSegment {
  readonly id: string;
  readonly size: number;
}

/** A blob id: random, so a file name never comes from a key. */
export function newBlobId(): string {
  return randomBytes(16).toString("hex");
}

/**
 * Files of object bytes in one directory, named by random ids. A blob is written to
 * `<id>.tmp`, fdatasynced, renamed to `<id>` and the directory synced, before any record names
 * it: a crash leaves at worst a file no record names, which `sweep` removes.
 */
export class BlobFiles {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  path(id: string): string {
    return join(this.#dir, id);
  }

  async write(
    source: AsyncIterable<Uint8Array>,
    maxBytes: number,
    algorithms: readonly string[],
    tooLarge: () => Error,
  ): Promise<WrittenBlob> {
    const id = newBlobId();
    const temp = `${this.path(id)}.tmp`;
    const hashes = new Map(["md5", ...algorithms].map((name) => [name, createHash(name)]));
    const file = await open(temp, "wx", 0o600);
    let size = 0;
    try {
      for await (const chunk of source) {
        size += chunk.byteLength;
        if (size > maxBytes) throw tooLarge();
        for (const hash of hashes.values()) hash.update(chunk);
        await writeAll(file, chunk);
      }
      await file.datasync();
    } catch (error) {
      await file.close().catch(() => {});
      await unlink(temp).catch(() => {});
      throw error;
    }
    await file.close();
    await rename(temp, this.path(id));
    await this.#syncDirectory();
    const digests: Record<string, string> = {};
    for (const [name, hash] of hashes) digests[name] = hash.digest("hex");
    return { id, size, digests };
  }

  /** Removes blob files; a missing one is fine. */
  async remove(ids: readonly string[]): Promise<void> {
    await Promise.all(ids.map((id) => unlink(this.path(id)).catch(() => {})));
  }

  /**
   * Removes every file no record names (`named`), temporary ones included. Call only when no
   * write is in progress (at startup, before anything is served).
   */
  sweep(named: ReadonlySet<string>): number {
    let removed = 0;
    for (const name of readdirSync(this.#dir)) {
      if (named.has(name)) continue;
      try {
        unlinkSync(join(this.#dir, name));
        removed++;
      } catch {}
    }
    return removed;
  }

  /**
   * A stream of `length` bytes from `offset` of the concatenated segments. The first file it
   * needs is opened now (so the version read is the one just looked up); later ones as the
   * stream reaches them.
   */
  stream(
    segments: readonly BlobSegment[],
    offset: number,
    length: number,
  ): ReadableStream<Uint8Array> {
    let index = 0;
    let position = offset;
    while (index < segments.length && position >= segments[index]!.size) {
      position -= segments[index]!.size;
      index++;
    }
    let remaining = length;
    let fd: number | undefined;
    let forget = () => {};
    const closeCurrent = async () => {
      const opened = fd;
      fd = undefined;
      if (opened === undefined) return;
      forget();
      await closeDescriptor(opened).catch(() => {});
    };
    const stream: ReadableStream<Uint8Array> = new ReadableStream<Uint8Array>({
      type: "bytes",
      pull: async (controller) => {
        if (remaining === 0) {
          await closeCurrent();
          controller.close();
          return;
        }
        const segment = segments[index]!;
        const want = Math.min(READ_CHUNK, remaining, segment.size - position);
        const buffer = new Uint8Array(want);
        let bytesRead: number;
        try {
          if (fd === undefined) {
            fd = await openDescriptor(this.path(segment.id), "r");
            forget = closeWhenDropped(stream, fd);
          }
          bytesRead = await readDescriptor(fd, buffer, 0, want, position);
          if (bytesRead === 0) throw new Error(`R2 blob ${segment.id} is shorter than recorded`);
        } catch (error) {
          await closeCurrent();
          throw error;
        }
        position += bytesRead;
        remaining -= bytesRead;
        controller.enqueue(buffer.subarray(0, bytesRead));
        if (position === segment.size && remaining > 0) {
          await closeCurrent();
          index++;
          position = 0;
        }
      },
      cancel: () => closeCurrent(),
    });
    // The first file is opened now, so the stream reads the version just looked up even if a
    // later put removes its file (an open descriptor keeps the bytes).
    if (remaining > 0) {
      fd = openSync(this.path(segments[index]!.id), "r");
      forget = closeWhenDropped(stream, fd);
    }
    setBodyLength(stream, length);
    return stream;
  }

  async #syncDirectory(): Promise<void> {
    const dir = await open(this.#dir, "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

async function writeAll(file: FileHandle, chunk: Uint8Array): Promise<void> {
  let written = 0;
  while (written < chunk.byteLength) {
    const { bytesWritten } = await file.write(chunk, written, chunk.byteLength - written);
    written += bytesWritten;
  }
}

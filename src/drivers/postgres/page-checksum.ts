import { closeSync, openSync } from "node:fs";
import { crc32 } from "node:zlib";
import { readAt } from "../local/read-at.ts";

/** One page's checksum: CRC-32 of its image, seeded with its page number. */
export function pageChecksum(pgno: number, page: Uint8Array): number {
  return crc32(page, pgno);
}

/**
 * The checksum of a whole database, kept up to date page by page: the XOR of every page's
 * checksum (`pageChecksum`), so a transaction updates it from the pages it wrote alone, and a
 * database rebuilt from PostgreSQL can be checked against the value recorded with its last
 * transaction (the LTX-style rolling checksum of storage-and-replication.md §8b).
 */
export class DatabaseChecksum {
  /** Checksum of page `n` at index `n - 1`. */
  #pages: number[] = [];
  #value = 0;

  /** The checksum of the database as it stands. */
  get value(): number {
    return this.#value >>> 0;
  }

  /** Sets page `pgno` to `page`. */
  set(pgno: number, page: Uint8Array): void {
    const sum = pageChecksum(pgno, page);
    const old = this.#pages[pgno - 1];
    if (old !== undefined) this.#value ^= old;
    while (this.#pages.length < pgno - 1) this.#pages.push(0);
    this.#pages[pgno - 1] = sum;
    this.#value ^= sum;
  }

  /** Drops the pages past `dbPages` (a commit that shrank the database). */
  truncate(dbPages: number): void {
    while (this.#pages.length > dbPages) this.#value ^= this.#pages.pop()!;
  }

  /** The checksum of the database file at `path`, read `pageSize` bytes at a time. */
  static ofFile(path: string, pageSize: number): DatabaseChecksum {
    const checksum = new DatabaseChecksum();
    const fd = openSync(path, "r");
    try {
      // 256 pages per read; pages are checksummed in place.
      const chunkPages = 256;
      for (let first = 0; ; first += chunkPages) {
        const chunk = readAt(fd, chunkPages * pageSize, first * pageSize);
        const pages = Math.floor(chunk.length / pageSize);
        for (let i = 0; i < pages; i++) {
          checksum.set(first + i + 1, chunk.subarray(i * pageSize, (i + 1) * pageSize));
        }
        if (chunk.length < chunkPages * pageSize) break;
      }
    } finally {
      closeSync(fd);
    }
    return checksum;
  }
}

/** Files at most this large are kept in memory once read. */
export const CACHED_FILE_BYTES = 64 * 1024;
/** The bytes of file contents kept, across files. */
const CACHE_BYTES = 16 * 1024 * 1024;
/** The files whose ETag (and maybe contents) are kept. */
const CACHE_ENTRIES = 4096;

interface Entry {
  /** The file's version: size, modification time, inode; a change misses. */
  readonly version: string;
  readonly etag: string;
  bytes: Uint8Array | undefined;
}

/**
 * What the asset server remembers of recently served files, by path: the ETag of a version (so
 * it is not hashed again) and, for files up to 64 KiB, their contents, so a hot asset costs one
 * `stat` per request rather than an open, a read and a close. Bounded: 4,096 files and 16 MiB of
 * contents, least recently used out first. A file that changes has a new version and is read
 * again: nothing stale is served.
 */
export class AssetCache {
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;

  /** The entry of `path` at `version`, or undefined (an older version is dropped). */
  get(path: string, version: string): Entry | undefined {
    const entry = this.#entries.get(path);
    if (entry === undefined) return undefined;
    this.#entries.delete(path);
    if (entry.version !== version) {
      this.#bytes -= entry.bytes?.byteLength ?? 0;
      return undefined;
    }
    this.#entries.set(path, entry);
    return entry;
  }

  /** Remembers the ETag of `path` at `version`. */
  remember(path: string, version: string, etag: string): Entry {
    const old = this.#entries.get(path);
    if (old !== undefined) {
      this.#entries.delete(path);
      this.#bytes -= old.bytes?.byteLength ?? 0;
    }
    const entry: Entry = { version, etag, bytes: undefined };
    this.#entries.set(path, entry);
    this.#trim();
    return entry;
  }

  /** Keeps the contents read for `path` at `version`, if its entry is still that version. */
  keepBytes(path: string, version: string, bytes: Uint8Array): void {
    if (bytes.byteLength > CACHED_FILE_BYTES) return;
    const entry = this.#entries.get(path);
    if (entry === undefined || entry.version !== version || entry.bytes !== undefined) return;
    entry.bytes = bytes;
    this.#bytes += bytes.byteLength;
    this.#trim();
  }

  #trim(): void {
    for (const [path, entry] of this.#entries) {
      if (this.#entries.size <= CACHE_ENTRIES && this.#bytes <= CACHE_BYTES) return;
      this.#entries.delete(path);
      this.#bytes -= entry.bytes?.byteLength ?? 0;
    }
  }
}

import { createHash } from "node:crypto";
import { type Stats, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, sep } from "node:path";
import { AssetCache } from "./asset-cache.ts";

/** One file of the assets directory. */
export interface AssetFile {
  /** Its path on disk. */
  readonly path: string;
  readonly size: number;
  /** Strong validator: changes whenever the file does (size, modification time, inode). */
  readonly etag: string;
  /** The file's version, as the cache knows it. */
  readonly version: string;
  /** Its contents, when a request read them already (files up to 64 KiB). */
  readonly bytes: Uint8Array | undefined;
  /** Last modification, ms since the epoch. */
  readonly mtimeMs: number;
}

/** Precompressed files larger than this are not used (the content is encoded on the fly). */
const MAX_PRECOMPRESSED_BYTES = 1024 * 1024;

/** The file name suffix of a precompressed copy, by coding. */
const PRECOMPRESSED = { br: ".br", gzip: ".gz" } as const;

/** Files of the directory that configure the assets and are never served, as on Cloudflare. */
const RESERVED = new Set(["/_headers", "/_redirects", "/_worker.js", "/.assetsignore"]);

/**
 * The files of an assets directory, looked up on disk at each request, so a file added or
 * changed is served at once (`stead dev` needs no restart) and nothing about the directory is
 * held in memory. Paths are the decoded URL paths ("/docs/a b.html"); one that could leave the
 * directory (a `..` segment, a NUL, a backslash) names no file.
 */
export class AssetFiles {
  readonly #root: string;
  readonly #cache = new AssetCache();

  constructor(directory: string) {
    this.#root = directory.endsWith(sep) ? directory.slice(0, -1) : directory;
  }

  /** The directory served. */
  get directory(): string {
    return this.#root;
  }

  /** The file at URL path `pathname`, or null when there is no regular file there. */
  async find(pathname: string): Promise<AssetFile | null> {
    const path = this.#pathOf(pathname);
    if (path === undefined) return null;
    // A stat of a file in the page cache takes a few µs: done on the event loop, it costs far
    // less than a round trip through the thread pool (the contents are read off the loop).
    return this.#file(path);
  }

  /**
   * The bytes of `file` precompressed with `encoding` (`app.js.br`, `app.js.gz` beside it), when
   * such a file exists, is at most 1 MiB, and is not older than `file`.
   */
  async precompressed(file: AssetFile, encoding: "br" | "gzip"): Promise<Uint8Array | undefined> {
    const variant = this.#file(`${file.path}${PRECOMPRESSED[encoding]}`);
    if (variant === null || variant.size > MAX_PRECOMPRESSED_BYTES) return undefined;
    if (variant.mtimeMs < file.mtimeMs) return undefined;
    if (variant.bytes !== undefined) return variant.bytes;
    let bytes: Uint8Array;
    try {
      bytes = await readFile(variant.path);
    } catch {
      return undefined;
    }
    this.keepBytes(variant, bytes);
    return bytes;
  }

  #file(path: string): AssetFile | null {
    const info: Stats | undefined = statSync(path, { throwIfNoEntry: false });
    if (info === undefined || !info.isFile()) return null;
    const version = `${info.size}:${info.mtimeMs}:${info.ctimeMs}:${info.ino}:${info.dev}`;
    const entry =
      this.#cache.get(path, version) ??
      this.#cache.remember(
        path,
        version,
        createHash("sha256").update(version).digest("hex").slice(0, 32),
      );
    return {
      path,
      size: info.size,
      etag: entry.etag,
      version,
      bytes: entry.bytes,
      mtimeMs: info.mtimeMs,
    };
  }

  /** Keeps what a request read of `file` for the next ones (while the file stays the same). */
  keepBytes(file: AssetFile, bytes: Uint8Array): void {
    this.#cache.keepBytes(file.path, file.version, bytes);
  }

  /** The file's etag, or null: what the html_handling rules compare. */
  async etagOf(pathname: string): Promise<string | null> {
    return (await this.find(pathname))?.etag ?? null;
  }

  #pathOf(pathname: string): string | undefined {
    if (!pathname.startsWith("/") || pathname.endsWith("/")) return undefined;
    if (pathname.includes("\0") || pathname.includes("\\")) return undefined;
    if (RESERVED.has(pathname)) return undefined;
    const segments = pathname.slice(1).split("/");
    for (const segment of segments) {
      if (segment === "" || segment === "." || segment === "..") return undefined;
      if (segment === "node_modules" || segment === ".git" || segment === ".DS_Store") {
        return undefined;
      }
    }
    const path = join(this.#root, ...segments);
    // join() normalized nothing away (no "." or ".." remain), but stay certain.
    return path.startsWith(this.#root + sep) ? path : undefined;
  }
}

import type { ReadAt } from "../sqlite-wal/wal-frames.ts";

/** The WAL header's size: the first read of every reader. */
const HEADER_BYTES = 32;
/**
 * What a shared read of frames takes beyond what was asked: one frame of a 4 KiB page. History's
 * commit scan asks for as many frames as the last commit wrote (and the next frame's header), the
 * journal's capture for one frame more, so one system call serves both.
 */
const EXTRA_BYTES = 24 + 4096;

/**
 * An object's WAL read once for several readers while it cannot change. Right after a COMMIT,
 * history's commit scan (`WalCommitScanner`) and the node journal's capture (`WalReader`) each read
 * the WAL's header and then the frames that follow the last commit they saw: the same bytes,
 * usually. Inside `during`, the header is read once and frames are read in one chunk that serves
 * every later read it covers; outside, every read goes to the file.
 *
 * Only for synchronous stretches with no write to the database in them: SQLite appends to the WAL
 * at each COMMIT and restarts it after a checkpoint, and a cached read must not outlive either.
 */
export class SharedWalReads {
  readonly #read: ReadAt;
  #sharing = false;
  #header: Buffer | undefined;
  #chunk: { position: number; bytes: Buffer; asked: number } | undefined;

  constructor(read: ReadAt) {
    this.#read = read;
  }

  /** Reads `length` bytes at `position`, fewer at the end of the file (as `ReadAt`). */
  readonly readAt: ReadAt = (length, position) => {
    if (!this.#sharing) return this.#read(length, position);
    if (position === 0 && length <= HEADER_BYTES) {
      this.#header ??= this.#read(HEADER_BYTES, 0);
      return this.#header.subarray(0, length);
    }
    const chunk = this.#chunk;
    if (chunk !== undefined && position >= chunk.position) {
      const start = position - chunk.position;
      const end = start + length;
      // Inside what was read, or past the end of the file (the read came back short).
      if (end <= chunk.bytes.length || chunk.bytes.length < chunk.asked) {
        if (start <= chunk.bytes.length) return chunk.bytes.subarray(start, end);
      }
    }
    const asked = length + EXTRA_BYTES;
    const bytes = this.#read(asked, position);
    this.#chunk = { position, bytes, asked };
    return bytes.subarray(0, length);
  };

  /**
   * Runs `fn` with reads shared, then forgets what was read. `fn` must not write to the database
   * nor let anything else run (no await): the WAL must stay as it was read.
   */
  during<T>(fn: () => T): T {
    this.#sharing = true;
    try {
      return fn();
    } finally {
      this.#sharing = false;
      this.#header = undefined;
      this.#chunk = undefined;
    }
  }
}

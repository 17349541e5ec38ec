/**
 * Object database files written and not yet known durable. SQLite writes an object's database
 * file only when the WAL is checkpointed into it (our checkpoints, and the one a close makes) and
 * when it creates the file; each of those writes is followed by an fdatasync of the file. The
 * node journal, retiring a segment, must make the files of its objects durable; a database file
 * with no write since its last sync needs nothing, and for most objects (whose WAL has not been
 * checkpointed since) that saves an open, an fdatasync and a close on the thread pool.
 *
 * Conservative by construction: a file is clean only once a sync that started after its latest
 * write finished. A write whose sync never comes (a failed close, a failed sync) leaves the file
 * unsynced, and the journal syncs it as it always did.
 */
export class UnsyncedFiles {
  /** Path → the number of its latest write. */
  readonly #latest = new Map<string, number>();
  #writes = 0;

  /**
   * Call before writing `path` without syncing it. Call the returned function once an fdatasync
   * of the file that started after the write has finished.
   */
  written(path: string): () => void {
    const write = ++this.#writes;
    this.#latest.set(path, write);
    return () => {
      // A later write, not covered by this sync, keeps the file unsynced.
      if (this.#latest.get(path) === write) this.#latest.delete(path);
    };
  }

  /** True while `path` may hold writes that no finished sync covers. */
  has(path: string): boolean {
    return this.#latest.has(path);
  }
}

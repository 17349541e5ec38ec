import { type FSWatcher, watch } from "node:fs";
import { dirname, join } from "node:path";

/**
 * Watches the directories holding a set of files, not the files themselves: editors that save by
 * writing a new file and renaming it over the old one replace the file a watcher would hold.
 * `onChange` gets the absolute path of every entry that changes in those directories; the caller
 * decides which matter.
 */
export class DirectoryWatch {
  readonly #watchers = new Map<string, FSWatcher>();
  readonly #onChange: (path: string) => void;

  constructor(onChange: (path: string) => void) {
    this.#onChange = onChange;
  }

  /** Watches the directories of `files` (and only those), from now on. */
  set(files: Iterable<string>): void {
    const dirs = new Set([...files].map((file) => dirname(file)));
    for (const [dir, watcher] of this.#watchers) {
      if (dirs.has(dir)) continue;
      watcher.close();
      this.#watchers.delete(dir);
    }
    for (const dir of dirs) {
      if (this.#watchers.has(dir)) continue;
      let watcher: FSWatcher;
      try {
        watcher = watch(dir, (_event, name) => {
          if (name !== null) this.#onChange(join(dir, String(name)));
        });
      } catch {
        continue; // Gone since the build read it; a change elsewhere brings it back.
      }
      watcher.on("error", () => {
        watcher.close();
        this.#watchers.delete(dir);
      });
      this.#watchers.set(dir, watcher);
    }
  }

  close(): void {
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
  }
}

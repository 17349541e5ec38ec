/** Bytes the cache charges for one entry beside its name: the id's hex, the Map slots. */
const ENTRY_OVERHEAD = 200;

interface Entry {
  /** Id (64 hex digits) of the name in each namespace that asked, by the namespace's factory. */
  readonly ids: Map<object, string>;
  bytes: number;
}

/**
 * The ids of recently used names, shared by every namespace of a runtime and bounded by bytes,
 * not entries: names are any strings a client sends, so ten thousand of them can be 10 KB or
 * 10 GB. Least recently used names leave first. A name that is not cached costs two HMACs to
 * resolve again, nothing more: an id carries its own name, so nothing is lost on eviction.
 */
export class NameCache {
  readonly #maxBytes: number;
  readonly #entries = new Map<string, Entry>();
  /** The last of `#entries` (most recently used): a hot name's lookups leave it where it is. */
  #newest: string | undefined;
  #bytes = 0;

  /** `maxBytes` bounds the names and ids held; 0 turns the cache off. */
  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Bytes held now (names counted at two bytes per UTF-16 unit). */
  get bytes(): number {
    return this.#bytes;
  }

  /** The id `scope` recorded for `name`; the name becomes the most recently used. */
  get(scope: object, name: string): string | undefined {
    const entry = this.#entries.get(name);
    const hex = entry?.ids.get(scope);
    if (hex !== undefined && name !== this.#newest) {
      this.#entries.delete(name);
      this.#entries.set(name, entry!);
      this.#newest = name;
    }
    return hex;
  }

  /** Records `scope`'s id for `name`, evicting the least recently used names past the budget. */
  set(scope: object, name: string, hex: string): void {
    const bytes = name.length * 2 + ENTRY_OVERHEAD;
    // One name may not take more than a small share, so a few huge names cannot flush the rest.
    if (bytes > this.#maxBytes / 64) return;
    let entry = this.#entries.get(name);
    if (entry === undefined) {
      entry = { ids: new Map(), bytes };
      this.#bytes += bytes;
    } else {
      this.#entries.delete(name);
      if (!entry.ids.has(scope)) {
        entry.bytes += ENTRY_OVERHEAD;
        this.#bytes += ENTRY_OVERHEAD;
      }
    }
    entry.ids.set(scope, hex);
    this.#entries.set(name, entry);
    this.#newest = name;
    for (const [oldest, old] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(oldest);
      if (oldest === this.#newest) this.#newest = undefined;
      this.#bytes -= old.bytes;
    }
  }
}

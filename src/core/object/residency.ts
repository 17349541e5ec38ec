import type { ObjectHost } from "./object-host.ts";

/** Objects examined per shedding pass, so an activation never walks every resident object. */
const SCAN = 64;

/**
 * Bounds how many objects are in memory at once, across all namespaces. Past the limit, the
 * least recently active idle objects leave memory early — evicted, or hibernated if they hold
 * hibernatable WebSockets — as Cloudflare evicts idle objects at will. Busy objects are skipped,
 * so the limit can be exceeded briefly under load, never by dropping work.
 */
export class Residency {
  readonly #max: number;
  /** Resident objects, least recently active first. */
  readonly #resident = new Set<ObjectHost>();
  /** The last of `#resident`: a hot object's events skip moving it to where it already is. */
  #latest: ObjectHost | undefined;

  constructor(maxActive: number) {
    this.#max = maxActive;
  }

  /** Objects in memory now. */
  get size(): number {
    return this.#resident.size;
  }

  /** Call when an object starts an event: it becomes the most recently active. */
  active(host: ObjectHost): void {
    if (host === this.#latest && this.#resident.size <= this.#max) return;
    this.#latest = host;
    this.#resident.delete(host);
    this.#resident.add(host);
    if (this.#resident.size > this.#max) this.#shed();
  }

  /** Call when an object left memory (evicted, hibernated, closed). */
  left(host: ObjectHost): void {
    if (host === this.#latest) this.#latest = undefined;
    this.#resident.delete(host);
  }

  #shed(): void {
    let excess = this.#resident.size - this.#max;
    let scanned = 0;
    for (const host of this.#resident) {
      if (excess <= 0 || scanned++ >= SCAN) break;
      if (host.leaveMemoryIfIdle()) excess--;
    }
  }
}

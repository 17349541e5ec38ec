import { nowUs } from "../threads/shard-protocol.ts";

/**
 * Until when a cluster node may serve objects: a wall-clock instant in µs (`nowUs()`, which every
 * thread of the process reads alike), in shared memory so the node's object threads read the
 * same deadline. Each renewal of the lease moves it; 0 means the node does not serve. Reading it
 * costs one atomic load, so it is checked before every event, not only by a timer.
 */
export class LeaseDeadline {
  readonly buffer: SharedArrayBuffer;
  readonly #slot: BigInt64Array;

  constructor(buffer = new SharedArrayBuffer(8)) {
    this.buffer = buffer;
    this.#slot = new BigInt64Array(buffer);
  }

  /** True while the deadline is ahead. */
  get serving(): boolean {
    return nowUs() < Atomics.load(this.#slot, 0);
  }

  /** Moves the deadline to `untilUs` if that is later. */
  extend(untilUs: bigint): void {
    if (untilUs > Atomics.load(this.#slot, 0)) Atomics.store(this.#slot, 0, untilUs);
  }

  /** The node serves nothing from now on (until extended again). */
  clear(): void {
    Atomics.store(this.#slot, 0, 0n);
  }
}

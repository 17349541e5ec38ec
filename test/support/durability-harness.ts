// Shared set-up of the durability tests: a runtime on the local driver whose flushes the test
// can count, hold and fail per object.
import { createRuntime, LocalDriver, type RuntimeOptions } from "../../src/index.ts";
import { tempDataDir } from "./temp-dir.ts";
import { waitFor } from "./wait-for.ts";

/** No test here needs long; a hang fails fast instead of stalling the run. */
export const LIMIT = { timeout: 5_000 };

export const FIXTURE = new URL("../fixtures/durability-worker.ts", import.meta.url);

/** Controls the local driver's flushes, per object id: counts, holds and failures. */
export class Flushes {
  readonly #counts = new Map<string, number>();
  readonly #holds = new Map<string, PromiseWithResolvers<void>>();
  readonly #failing = new Set<string>();

  readonly hook = async ({ id }: { namespace: string; id: string }): Promise<void> => {
    this.#counts.set(id, this.count(id) + 1);
    const hold = this.#holds.get(id);
    if (hold) await hold.promise;
    if (this.#failing.has(id)) throw new Error("injected flush failure");
  };

  /** Flushes of `id` started so far. */
  count(id: string): number {
    return this.#counts.get(id) ?? 0;
  }

  /** Holds every flush of `id` until `release(id)`. */
  hold(id: string): void {
    this.#holds.set(id, Promise.withResolvers<void>());
  }

  release(id: string): void {
    this.#holds.get(id)?.resolve();
    this.#holds.delete(id);
  }

  /** Makes every flush of `id` fail (after any hold) until `heal(id)`. */
  fail(id: string): void {
    this.#failing.add(id);
  }

  heal(id: string): void {
    this.#failing.delete(id);
  }

  releaseAll(): void {
    for (const id of [...this.#holds.keys()]) this.release(id);
  }

  /** Waits until `id` has started `n` flushes in all. */
  started(id: string, n: number): Promise<void> {
    return waitFor(() => this.count(id) >= n, `flush #${n} of ${id}`);
  }
}

export async function startRuntime(options: Partial<RuntimeOptions> = {}) {
  const dir = tempDataDir("stead-durability-");
  const flushes = new Flushes();
  const rt = await createRuntime({
    main: FIXTURE,
    durableObjects: { STORE: "Store", LATCH: "Latch", SLOW: "SlowStart" },
    driver: new LocalDriver({ dataDir: dir.path, beforeFlush: flushes.hook }),
    ...options,
  });
  return {
    rt,
    env: rt.env,
    flushes,
    idOf: (name: string): string => rt.env.STORE.idFromName(name).toString(),
    async [Symbol.asyncDispose]() {
      flushes.releaseAll();
      await rt.dispose();
      dir[Symbol.dispose]();
    },
  };
}

export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** True if `promise` is still unsettled after several turns of the event loop. */
export async function isPending(promise: Promise<unknown>, turns = 10): Promise<boolean> {
  let settled = false;
  const settle = () => {
    settled = true;
  };
  promise.then(settle, settle);
  for (let i = 0; i < turns; i++) await turn();
  return !settled;
}

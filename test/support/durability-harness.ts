// Shared set-up of the durability tests: a runtime on the durability fixture, on the storage
// under test or on the local driver with its flushes under the test's control (counted, held and
// failed per object). Only the local driver has that hook, so a test that controls flushes
// declares it: `describe(name, NEEDS_FLUSH_HOOKS, ...)`.
import { createRuntime, LocalDriver, type RuntimeOptions } from "../../src/index.ts";
import { skipUnless, storageOptions } from "./storage.ts";
import { tempDataDir } from "./temp-dir.ts";
import { waitFor } from "./wait-for.ts";

/** No test here needs long; a hang fails fast instead of stalling the run. */
export const LIMIT = { timeout: 5_000 };

/** The options of a test or suite that counts, holds or fails flushes through `Flushes`. */
export const NEEDS_FLUSH_HOOKS = {
  skip: skipUnless("flushHooks", "counts, holds or fails flushes to see what waits for them"),
};

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

const BINDINGS = { STORE: "Store", LATCH: "Latch", SLOW: "SlowStart" };

/** A runtime on the durability fixture, on a fresh store of the storage under test. */
export async function startRuntime(options: Partial<RuntimeOptions> = {}) {
  const rt = await createRuntime({
    main: FIXTURE,
    durableObjects: BINDINGS,
    ...storageOptions(),
    ...options,
  });
  return {
    rt,
    env: rt.env,
    idOf: (name: string): string => rt.env.STORE.idFromName(name).toString(),
    [Symbol.asyncDispose]: () => rt.dispose(),
  };
}

/**
 * A runtime on the durability fixture, on the local driver whose flushes `flushes` controls
 * (declare `NEEDS_FLUSH_HOOKS`).
 */
export async function startWithFlushes(options: Partial<RuntimeOptions> = {}) {
  const dir = tempDataDir("stead-durability-");
  const flushes = new Flushes();
  const rt = await createRuntime({
    main: FIXTURE,
    durableObjects: BINDINGS,
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

import type { DurableObjectId } from "../ids/object-id.ts";
import type { DurableObjectStorage } from "../storage/durable-object-storage.ts";

/** What `ctx` delegates to: the object's host, for one generation of the object. */
export interface StateHost {
  blockConcurrencyWhile<T>(fn: () => Promise<T>): Promise<T>;
  waitUntil(promise: Promise<unknown>): void;
  abort(reason?: string): never;
}

/**
 * `ctx`, the second half of a Durable Object: its id, storage and the runtime's controls.
 * One exists per instance; a reset makes a new one.
 */
export class DurableObjectState {
  /** This object's id; `id.name` is set for objects addressed by name. */
  readonly id: DurableObjectId;
  /** The object's private storage: KV, SQL, transactions and the alarm. */
  readonly storage: DurableObjectStorage;
  readonly #host: StateHost;

  /** @internal */
  constructor(id: DurableObjectId, storage: DurableObjectStorage, host: StateHost) {
    this.id = id;
    this.storage = storage;
    this.#host = host;
  }

  /**
   * Runs `callback` while holding back every other event. If it throws or runs past 30 s, the
   * object is reset (the constructor runs again on the next event).
   *
   * @example
   * constructor(ctx, env) {
   *   super(ctx, env);
   *   ctx.blockConcurrencyWhile(async () => { this.value = (await ctx.storage.get("v")) ?? 0; });
   * }
   */
  blockConcurrencyWhile<T>(callback: () => Promise<T>): Promise<T> {
    return this.#host.blockConcurrencyWhile(callback);
  }

  /** Keeps the object in memory until `promise` settles. */
  waitUntil(promise: Promise<unknown>): void {
    this.#host.waitUntil(promise);
  }

  /** Resets the object at once: held outputs fail and the constructor runs on the next event. */
  abort(reason?: string): never {
    return this.#host.abort(reason);
  }
}

import { attempt } from "./attempt.ts";
import type {
  DurableObjectListOptions,
  DurableObjectSetAlarmOptions,
  DurableObjectStorage,
} from "./durable-object-storage.ts";

/** @internal Set once the transaction rolled back. */
export const ROLLED_BACK = Symbol("rolledBack");
/** @internal Ends the transaction's use. */
export const FINISH = Symbol("finish");

/** The `txn` of `storage.transaction()`: the storage methods, plus `rollback()`. */
export class DurableObjectTransaction {
  readonly #storage: DurableObjectStorage;
  #finished = false;
  [ROLLED_BACK] = false;

  /** @internal */
  constructor(storage: DurableObjectStorage) {
    this.#storage = storage;
  }

  get: DurableObjectStorage["get"] = ((keys: any, options?: any) =>
    attempt(() => this.#use("get()").get(keys, options))) as DurableObjectStorage["get"];
  put: DurableObjectStorage["put"] = ((a: any, b?: any, c?: any) =>
    attempt(() => this.#use("put()").put(a, b, c))) as DurableObjectStorage["put"];
  delete: DurableObjectStorage["delete"] = ((keys: any, options?: any) =>
    attempt(() => this.#use("delete()").delete(keys, options))) as DurableObjectStorage["delete"];

  list<T = unknown>(options?: DurableObjectListOptions): Promise<Map<string, T>> {
    return attempt(() => this.#use("list()").list<T>(options));
  }
  getAlarm(options?: { allowConcurrency?: boolean }): Promise<number | null> {
    return attempt(() => this.#use("getAlarm()").getAlarm(options));
  }
  setAlarm(time: number | Date, options?: DurableObjectSetAlarmOptions): Promise<void> {
    return attempt(() => this.#use("setAlarm()").setAlarm(time, options));
  }
  deleteAlarm(options?: DurableObjectSetAlarmOptions): Promise<void> {
    return attempt(() => this.#use("deleteAlarm()").deleteAlarm(options));
  }

  /** Always throws: `deleteAll()` cannot be part of a transaction. */
  deleteAll(): never {
    throw new Error("Cannot call deleteAll() within a transaction");
  }

  /** Discards the transaction's writes; later operations on `txn` throw. */
  rollback(): void {
    if (this[ROLLED_BACK]) return;
    this.#use("rollback()");
    this[ROLLED_BACK] = true;
  }

  /** @internal */
  [FINISH](): void {
    this.#finished = true;
  }

  #use(op: string): DurableObjectStorage {
    if (this[ROLLED_BACK]) throw new Error(`Cannot ${op} on rolled back transaction`);
    if (this.#finished) {
      throw new Error(
        `Cannot call ${op} on transaction that has already committed: did you move \`txn\` outside of the closure?`,
      );
    }
    return this.#storage;
  }
}

import { readFromCurrent, sendFromCurrent } from "../../core/gates/context.ts";
import {
  checkCacheTtl,
  checkKeyName,
  checkServiceKey,
  KV_LIMITS,
  kvFailed,
  putExpiration,
  putMetadata,
  utf8,
} from "./kv-limits.ts";
import type { KvEntry, KvStore } from "./kv-store.ts";
import { checkValueType, decodeValue, valueBytes } from "./kv-value.ts";

/** `get`'s second argument: the type, or `{ type, cacheTtl }`. */
export type KvGetOptions = string | { type?: string; cacheTtl?: number } | undefined;

export interface KvPutOptions {
  /** Seconds since the epoch, at least 60 s from now. */
  expiration?: number;
  /** Seconds from now, at least 60. */
  expirationTtl?: number;
  /** Any JSON-serializable value, at most 1024 bytes serialized. */
  metadata?: unknown;
}

export interface KvListOptions {
  prefix?: string | null;
  limit?: number;
  cursor?: string | null;
}

/** What `getWithMetadata` resolves to for one key. */
export interface KvValueWithMetadata<T, M> {
  value: T | null;
  metadata: M | null;
  cacheStatus: string | null;
}

/** One key of a `list` page. */
export interface KvListKey<M> {
  name: string;
  expiration?: number;
  metadata?: M;
}

/** A `list` page: `cursor` reads the next one while `list_complete` is false. */
export type KvListResult<M> =
  | { keys: KvListKey<M>[]; list_complete: false; cursor: string; cacheStatus: string | null }
  | { keys: KvListKey<M>[]; list_complete: true; cacheStatus: string | null };

/** Where a namespace binding keeps its entries, and its clock. */
export interface KvNamespaceSetup {
  readonly store: KvStore;
  /** The namespace's id (`kv_namespaces[].id`, or its binding name without one). */
  readonly namespace: string;
  /** Milliseconds since the epoch (the runtime's clock: tests pass a `ManualClock`). */
  readonly now: () => number;
}

const decoder = new TextDecoder();

/**
 * A Workers KV namespace binding (`env.MY_KV`), with Cloudflare's API, limits and error texts.
 * Every call is I/O of the caller: from a Durable Object its result comes back through the
 * object's input gate, and a write (`put`, `delete`) leaves only once the object's own writes
 * are durable (its output gate), as in workerd.
 *
 * @example
 * await env.CACHE.put("user:1", JSON.stringify(user), { expirationTtl: 3600 });
 * const user = await env.CACHE.get("user:1", "json");
 */
export class KVNamespace {
  readonly #setup: KvNamespaceSetup;

  constructor(setup: KvNamespaceSetup) {
    this.#setup = setup;
  }

  /** A value (`null` when absent), or a Map of up to 100 keys' values for an array of keys. */
  get(key: string, options?: "text" | { type?: "text"; cacheTtl?: number }): Promise<string | null>;
  get<T = unknown>(
    key: string,
    options: "json" | { type: "json"; cacheTtl?: number },
  ): Promise<T | null>;
  get(
    key: string,
    options: "arrayBuffer" | { type: "arrayBuffer"; cacheTtl?: number },
  ): Promise<ArrayBuffer | null>;
  get(
    key: string,
    options: "stream" | { type: "stream"; cacheTtl?: number },
  ): Promise<ReadableStream<Uint8Array> | null>;
  get(
    keys: string[],
    options?: "text" | { type?: "text"; cacheTtl?: number },
  ): Promise<Map<string, string | null>>;
  get<T = unknown>(
    keys: string[],
    options: "json" | { type: "json"; cacheTtl?: number },
  ): Promise<Map<string, T | null>>;
  get(key: string | string[], options?: KvGetOptions): Promise<unknown>;
  get(key: string | string[], options?: KvGetOptions): Promise<unknown> {
    return this.#read(() =>
      Array.isArray(key) ? this.#getBulk(key, options, false) : this.#getOne(key, options, false),
    );
  }

  /** `{ value, metadata, cacheStatus }`, or a Map of them for an array of keys. */
  getWithMetadata<M = unknown>(
    key: string,
    options?: "text" | { type?: "text"; cacheTtl?: number },
  ): Promise<KvValueWithMetadata<string, M>>;
  getWithMetadata<T = unknown, M = unknown>(
    key: string,
    options: "json" | { type: "json"; cacheTtl?: number },
  ): Promise<KvValueWithMetadata<T, M>>;
  getWithMetadata<M = unknown>(
    key: string,
    options: "arrayBuffer" | { type: "arrayBuffer"; cacheTtl?: number },
  ): Promise<KvValueWithMetadata<ArrayBuffer, M>>;
  getWithMetadata<M = unknown>(
    key: string,
    options: "stream" | { type: "stream"; cacheTtl?: number },
  ): Promise<KvValueWithMetadata<ReadableStream<Uint8Array>, M>>;
  getWithMetadata<T = unknown, M = unknown>(
    keys: string[],
    options?: KvGetOptions,
  ): Promise<Map<string, { value: T; metadata: M | null } | null>>;
  getWithMetadata(key: string | string[], options?: KvGetOptions): Promise<unknown>;
  getWithMetadata(key: string | string[], options?: KvGetOptions): Promise<unknown> {
    return this.#read(() =>
      Array.isArray(key) ? this.#getBulk(key, options, true) : this.#getOne(key, options, true),
    );
  }

  /** Stores `value` (string, ArrayBuffer, ArrayBufferView or ReadableStream) under `key`. */
  put(key: string, value: unknown, options?: KvPutOptions): Promise<void> {
    return this.#io(async () => {
      const name = String(key);
      checkKeyName("PUT", name);
      checkValueType(value);
      const now = Math.floor(this.#setup.now() / 1000);
      const expiration = putExpiration(now, options?.expiration, options?.expirationTtl);
      const metadata = putMetadata(options?.metadata);
      const bytes = await valueBytes(value);
      await this.#setup.store.put(
        this.#setup.namespace,
        name,
        { value: bytes, expiration, metadata },
        this.#setup.now() / 1000,
      );
    });
  }

  delete(key: string): Promise<void> {
    return this.#io(async () => {
      const name = String(key);
      checkKeyName("DELETE", name);
      await this.#setup.store.delete(this.#setup.namespace, name);
    });
  }

  /** Up to `limit` (default and most 1,000) keys in UTF-8 order, with a cursor for the next page. */
  list<M = unknown>(options?: KvListOptions): Promise<KvListResult<M>> {
    return this.#read(async (): Promise<KvListResult<M>> => {
      let limit: number = KV_LIMITS.maxListKeys;
      const requested = Math.trunc(Number(options?.limit ?? 0));
      // As in workerd, a limit of 0 or less is not sent: the service's default applies.
      if (requested > 0) {
        if (requested > KV_LIMITS.maxListKeys) {
          throw kvFailed(
            "GET",
            400,
            `Invalid key_count_limit of ${requested}. Please specify an integer less than ${KV_LIMITS.maxListKeys}.`,
          );
        }
        limit = requested;
      }
      const prefix = utf8(options?.prefix == null ? "" : String(options.prefix));
      if (prefix.byteLength > KV_LIMITS.maxKeyBytes) {
        throw kvFailed(
          "GET",
          414,
          `UTF-8 encoded length of ${prefix.byteLength} exceeds key length limit of ${KV_LIMITS.maxKeyBytes}.`,
        );
      }
      const cursor = options?.cursor == null ? "" : String(options.cursor);
      const after = cursor === "" ? undefined : new Uint8Array(Buffer.from(cursor, "base64url"));
      const rows = await this.#setup.store.list(
        this.#setup.namespace,
        { prefix, after, limit },
        this.#setup.now() / 1000,
      );
      const page = rows.slice(0, limit);
      const keys = page.map((row) => ({
        name: row.name,
        ...(row.expiration === undefined ? {} : { expiration: row.expiration }),
        ...(row.metadata === undefined ? {} : { metadata: JSON.parse(row.metadata) as M }),
      }));
      if (rows.length <= limit) return { keys, list_complete: true, cacheStatus: null };
      const last = page[page.length - 1]!.name;
      return {
        keys,
        list_complete: false,
        cursor: Buffer.from(last, "utf8").toString("base64url"),
        cacheStatus: null,
      };
    });
  }

  async #getOne(key: unknown, options: KvGetOptions, withMetadata: boolean): Promise<unknown> {
    const name = String(key);
    checkKeyName("GET", name);
    const { type, cacheTtl } = getOptions(options);
    checkCacheTtl("GET", cacheTtl);
    const entry = await this.#entry(name);
    if (entry === undefined) {
      return withMetadata ? { value: null, metadata: null, cacheStatus: null } : null;
    }
    const value = decodeValue(entry.value, type ?? "text");
    if (!withMetadata) return value;
    return { value, metadata: parseMetadata(entry), cacheStatus: null };
  }

  async #getBulk(keys: unknown[], options: KvGetOptions, withMetadata: boolean) {
    const { type, cacheTtl } = getOptions(options);
    if (type !== undefined && type !== "text" && type !== "json") {
      throw kvFailed("GET_BULK", 400, `"${type}" is not a valid type. Use "json" or "text"`);
    }
    if (keys.length > KV_LIMITS.maxBulkKeys) {
      throw kvFailed("GET_BULK", 400, `You can request a maximum of ${KV_LIMITS.maxBulkKeys} keys`);
    }
    if (keys.length < 1) throw kvFailed("GET_BULK", 400, "You must request a minimum of 1 key");
    const names = keys.map(String);
    for (const name of names) {
      checkServiceKey("GET_BULK", name);
      checkCacheTtl("GET_BULK", cacheTtl);
    }
    const values = new Map<string, unknown>();
    let total = 0;
    for (const name of names) {
      const entry = await this.#entry(name);
      if (entry === undefined) {
        values.set(name, null);
        continue;
      }
      const text = decoder.decode(entry.value);
      total += text.length;
      if (total > KV_LIMITS.maxBulkBytes) {
        throw kvFailed(
          "GET_BULK",
          413,
          `Total size of request exceeds the limit of ${KV_LIMITS.maxBulkBytes / 1024 / 1024}MB`,
        );
      }
      let value: unknown = text;
      if (type === "json") {
        try {
          value = JSON.parse(text);
        } catch {
          throw kvFailed(
            "GET_BULK",
            400,
            "At least one of the requested keys corresponds to a non-json value",
          );
        }
      }
      values.set(name, withMetadata ? { value, metadata: parseMetadata(entry) } : value);
    }
    return values;
  }

  #entry(name: string): Promise<KvEntry | undefined> {
    return this.#setup.store.get(this.#setup.namespace, name, this.#setup.now() / 1000);
  }

  /** A write is an output: from an object, it leaves once the object's writes are durable. */
  #io<T>(call: () => Promise<T>): Promise<T> {
    return sendFromCurrent(call);
  }

  /** A read starts at once (as in workerd, only writes wait for the output gate). */
  #read<T>(call: () => Promise<T>): Promise<T> {
    return readFromCurrent(call);
  }
}

function getOptions(options: KvGetOptions): { type?: string; cacheTtl?: number } {
  if (options === undefined || options === null) return {};
  if (typeof options === "string") return { type: options };
  return { type: options.type ?? undefined, cacheTtl: options.cacheTtl ?? undefined };
}

function parseMetadata(entry: KvEntry): unknown {
  return entry.metadata === undefined ? null : (JSON.parse(entry.metadata) as unknown);
}

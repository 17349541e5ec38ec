import { createHash, createHmac, randomBytes } from "node:crypto";
import { NameCache } from "./name-cache.ts";

const HEX64 = /^[0-9a-f]{64}$/;

/** Default bound of the runtime's name cache (`createRuntime({ nameCacheBytes })`). */
export const DEFAULT_NAME_CACHE_BYTES = 8 * 1024 * 1024;

/**
 * A Durable Object id: 32 bytes shown as 64 lowercase hex digits. The first 16 bytes are either
 * an HMAC of the name or random; the last 16 are a MAC binding the id to its namespace.
 */
export class DurableObjectId {
  readonly #hex: string;
  /** The name given to `idFromName`, or undefined for unique and parsed ids. */
  readonly name: string | undefined;

  /** @internal Ids are made by a namespace, never by user code. */
  constructor(hex: string, name: string | undefined) {
    this.#hex = hex;
    this.name = name;
  }

  /** The 64-hex-digit string form, accepted by `idFromString`. */
  toString(): string {
    return this.#hex;
  }

  /** True when both ids name the same object. */
  equals(other: DurableObjectId): boolean {
    return other instanceof DurableObjectId && other.#hex === this.#hex;
  }

  toJSON(): string {
    return this.#hex;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.name === undefined
      ? `DurableObjectId(${this.#hex})`
      : `DurableObjectId(${this.#hex}, name=${JSON.stringify(this.name)})`;
  }
}

/** Mints and checks the ids of one namespace, keyed by the namespace's unique key. */
export class IdFactory {
  readonly #key: Buffer;
  /** Ids this factory made or checked, so `checks` need not recompute their MAC. */
  readonly #valid = new WeakSet<DurableObjectId>();
  /** Recently named ids: `getByName` per request would otherwise cost two HMACs each time. */
  readonly #names: NameCache;

  /** `names` may be shared by the runtime's namespaces; it bounds their cached names together. */
  constructor(uniqueKey: string, names: NameCache = new NameCache(DEFAULT_NAME_CACHE_BYTES)) {
    this.#key = createHash("sha256").update(uniqueKey).digest();
    this.#names = names;
  }

  /** The same name always gives the same id in this namespace. */
  fromName(name: string): DurableObjectId {
    if (typeof name !== "string") {
      throw new TypeError(`idFromName() requires a string name, got ${describe(name)}.`);
    }
    let hex = this.#names.get(this, name);
    if (hex === undefined) {
      const head = createHmac("sha256", this.#key).update(name, "utf8").digest().subarray(0, 16);
      hex = this.#seal(head);
      this.#names.set(this, name, hex);
    }
    return this.#remember(new DurableObjectId(hex, name));
  }

  /** True when `id` is a well-formed id of this namespace. */
  checks(id: DurableObjectId): boolean {
    if (this.#valid.has(id)) return true;
    if (!this.owns(id.toString())) return false;
    this.#valid.add(id);
    return true;
  }

  /** A random id that never repeats. */
  unique(): DurableObjectId {
    return this.#remember(new DurableObjectId(this.#seal(randomBytes(16)), undefined));
  }

  /** Parses `toString()` output, rejecting malformed ids and ids of other namespaces. */
  fromString(hex: string): DurableObjectId {
    if (typeof hex !== "string" || !HEX64.test(hex)) {
      throw new TypeError("Invalid Durable Object ID: must be 64 hex digits");
    }
    if (!this.owns(hex)) {
      throw new TypeError("Durable Object ID is not valid for this namespace.");
    }
    return this.#remember(new DurableObjectId(hex, undefined));
  }

  /** True when `hex` is a well-formed id minted by this namespace. */
  owns(hex: string): boolean {
    if (!HEX64.test(hex)) return false;
    const head = Buffer.from(hex.slice(0, 32), "hex");
    return this.#mac(head) === hex.slice(32);
  }

  #remember(id: DurableObjectId): DurableObjectId {
    this.#valid.add(id);
    return id;
  }

  #seal(head: Buffer): string {
    return head.toString("hex") + this.#mac(head);
  }

  #mac(head: Buffer): string {
    return createHmac("sha256", this.#key).update(head).digest().subarray(0, 16).toString("hex");
  }
}

function describe(value: unknown): string {
  return value === null ? "null" : typeof value;
}

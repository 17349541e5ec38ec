import { createHash, createHmac, randomBytes } from "node:crypto";
import { NameCache } from "./name-cache.ts";

const HEX64 = /^[0-9a-f]{64}$/;

/** Cloudflare's jurisdictions (`DurableObjectJurisdiction` in @cloudflare/workers-types). */
export const JURISDICTIONS: readonly string[] = ["eu", "fedramp", "fedramp-high", "us"];

/** Default bound of the runtime's name cache (`createRuntime({ nameCacheBytes })`). */
export const DEFAULT_NAME_CACHE_BYTES = 8 * 1024 * 1024;

/** Records that `id` passed `root`'s check, in `jurisdiction` (undefined: none). */
// Set by DurableObjectId's static block: they reach its private fields.
let markChecked: (id: DurableObjectId, root: IdRoot, jurisdiction: string | undefined) => void;
/** The jurisdiction `root`'s check found for `id`, or UNCHECKED when `root` did not check it. */
let checkedJurisdiction: (
  id: DurableObjectId,
  root: IdRoot,
) => string | undefined | typeof UNCHECKED;
const UNCHECKED = Symbol("unchecked");

/**
 * A Durable Object id: 32 bytes shown as 64 lowercase hex digits. The first 16 bytes are either
 * an HMAC of the name or random; the last 16 are a MAC binding the id to its namespace and its
 * jurisdiction (ids without one keep the MAC they always had).
 */
export class DurableObjectId {
  readonly #hex: string;
  /**
   * The namespace (its `IdRoot`) whose MAC this id passed, and the jurisdiction the check found:
   * a field rather than a WeakMap entry per id, since every `idFromName` makes an id.
   */
  #checkedBy: IdRoot | undefined;
  #checkedJurisdiction: string | undefined;
  /** The name given to `idFromName`, or undefined for unique and parsed ids. */
  readonly name: string | undefined;
  /** The jurisdiction the id was made in (`ns.jurisdiction("eu")`), or undefined. */
  readonly jurisdiction: string | undefined;

  /** @internal Ids are made by a namespace, never by user code. */
  constructor(hex: string, name: string | undefined, jurisdiction?: string) {
    this.#hex = hex;
    this.name = name;
    this.jurisdiction = jurisdiction;
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

  static {
    markChecked = (id, root, jurisdiction) => {
      id.#checkedBy = root;
      id.#checkedJurisdiction = jurisdiction;
    };
    checkedJurisdiction = (id, root) =>
      #checkedBy in id && id.#checkedBy === root ? id.#checkedJurisdiction : UNCHECKED;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    const name = this.name === undefined ? "" : `, name=${JSON.stringify(this.name)}`;
    const where = this.jurisdiction === undefined ? "" : `, jurisdiction=${this.jurisdiction}`;
    return `DurableObjectId(${this.#hex}${name}${where})`;
  }
}

/** What a namespace's factory shares with the factories of its jurisdictions. */
export interface IdRoot {
  readonly key: Buffer;
  readonly names: NameCache;
  /** Factories of the jurisdictions used so far, made once each. */
  readonly jurisdictions: Map<string, IdFactory>;
}

/**
 * Mints and checks the ids of one namespace, keyed by the namespace's unique key. The factory
 * of a jurisdiction (`withJurisdiction`) mints ids whose MAC also covers the jurisdiction, so
 * the same name gives another id there, and any id tells its jurisdiction.
 */
export class IdFactory {
  readonly #root: IdRoot;
  readonly #top: IdFactory;
  /** This factory's jurisdiction; undefined for the namespace itself (it accepts any id). */
  readonly jurisdiction: string | undefined;

  /**
   * `names` may be shared by the runtime's namespaces; it bounds their cached names together.
   * `jurisdiction` and `parent` are for `withJurisdiction` only.
   */
  constructor(
    uniqueKey: string,
    names: NameCache = new NameCache(DEFAULT_NAME_CACHE_BYTES),
    jurisdiction?: string,
    parent?: IdFactory,
  ) {
    this.#top = parent ?? this;
    this.#root = parent
      ? parent.#root
      : {
          key: createHash("sha256").update(uniqueKey).digest(),
          names,
          jurisdictions: new Map(),
        };
    this.jurisdiction = jurisdiction;
  }

  /**
   * The factory of `jurisdiction` (undefined or null: the namespace's own). Throws a TypeError
   * naming the valid jurisdictions for any other value.
   */
  withJurisdiction(jurisdiction: unknown): IdFactory {
    if (jurisdiction === undefined || jurisdiction === null) return this.#top;
    if (typeof jurisdiction !== "string" || !JURISDICTIONS.includes(jurisdiction)) {
      throw new TypeError(
        `Unknown Durable Object jurisdiction ${describeValue(jurisdiction)}: use one of ${JURISDICTIONS.map((j) => `"${j}"`).join(", ")}.`,
      );
    }
    let factory = this.#root.jurisdictions.get(jurisdiction);
    if (factory === undefined) {
      factory = new IdFactory("", this.#root.names, jurisdiction, this.#top);
      this.#root.jurisdictions.set(jurisdiction, factory);
    }
    return factory;
  }

  /** The same name always gives the same id in this namespace and jurisdiction. */
  fromName(name: string): DurableObjectId {
    if (typeof name !== "string") {
      throw new TypeError(`idFromName() requires a string name, got ${describe(name)}.`);
    }
    const names = this.#root.names;
    let hex = names.get(this, name);
    if (hex === undefined) {
      const head = createHmac("sha256", this.#root.key)
        .update(name, "utf8")
        .digest()
        .subarray(0, 16);
      hex = this.#seal(head, this.jurisdiction);
      names.set(this, name, hex);
    }
    return this.#remember(new DurableObjectId(hex, name, this.jurisdiction));
  }

  /** True when `id` is a well-formed id of this namespace, of any jurisdiction. */
  checks(id: DurableObjectId): boolean {
    return this.#jurisdictionOfId(id) !== INVALID;
  }

  /** True when `id` belongs to this factory's jurisdiction, or this is the namespace itself. */
  matchesJurisdiction(id: DurableObjectId): boolean {
    return this.jurisdiction === undefined || this.#jurisdictionOfId(id) === this.jurisdiction;
  }

  /** A random id that never repeats, in this factory's jurisdiction. */
  unique(): DurableObjectId {
    const hex = this.#seal(randomBytes(16), this.jurisdiction);
    return this.#remember(new DurableObjectId(hex, undefined, this.jurisdiction));
  }

  /** Parses `toString()` output, rejecting malformed ids and ids of other namespaces. */
  fromString(hex: string): DurableObjectId {
    if (typeof hex !== "string" || !HEX64.test(hex)) {
      throw new TypeError("Invalid Durable Object ID: must be 64 hex digits");
    }
    const jurisdiction = this.#jurisdictionOf(hex);
    if (jurisdiction === INVALID) {
      throw new TypeError("Durable Object ID is not valid for this namespace.");
    }
    if (this.jurisdiction !== undefined && jurisdiction !== this.jurisdiction) {
      throw new TypeError(
        "idFromString called on jurisdictional subnamespace with an ID from a different jurisdiction",
      );
    }
    return this.#remember(new DurableObjectId(hex, undefined, jurisdiction));
  }

  /** True when `hex` is a well-formed id minted by this namespace, in any jurisdiction. */
  owns(hex: string): boolean {
    return HEX64.test(hex) && this.#jurisdictionOf(hex) !== INVALID;
  }

  /**
   * `id` with its jurisdiction filled in, for ids rebuilt from their string and name (alarm
   * records, calls from other threads), so `ctx.id.jurisdiction` is always right. Call only
   * with ids of this namespace.
   */
  complete(id: DurableObjectId): DurableObjectId {
    const jurisdiction = this.#jurisdictionOfId(id);
    if (jurisdiction === INVALID || jurisdiction === id.jurisdiction) return id;
    return this.#remember(new DurableObjectId(id.toString(), id.name, jurisdiction));
  }

  #jurisdictionOfId(id: DurableObjectId): string | undefined | typeof INVALID {
    const checked = checkedJurisdiction(id, this.#root);
    if (checked !== UNCHECKED) return checked;
    const jurisdiction = this.#jurisdictionOf(id.toString());
    if (jurisdiction !== INVALID) markChecked(id, this.#root, jurisdiction);
    return jurisdiction;
  }

  // Tries this factory's jurisdiction first, then no jurisdiction, then the others.
  #jurisdictionOf(hex: string): string | undefined | typeof INVALID {
    if (!HEX64.test(hex)) return INVALID;
    const head = Buffer.from(hex.slice(0, 32), "hex");
    const mac = hex.slice(32);
    const candidates = [this.jurisdiction, undefined, ...JURISDICTIONS];
    for (const jurisdiction of new Set(candidates)) {
      if (this.#mac(head, jurisdiction) === mac) return jurisdiction;
    }
    return INVALID;
  }

  #remember(id: DurableObjectId): DurableObjectId {
    markChecked(id, this.#root, id.jurisdiction);
    return id;
  }

  #seal(head: Buffer, jurisdiction: string | undefined): string {
    return head.toString("hex") + this.#mac(head, jurisdiction);
  }

  // Without a jurisdiction the MAC is the one ids always had; with one, it covers its name too.
  #mac(head: Buffer, jurisdiction: string | undefined): string {
    const hmac = createHmac("sha256", this.#root.key).update(head);
    if (jurisdiction !== undefined) hmac.update(`:${jurisdiction}`, "utf8");
    return hmac.digest().subarray(0, 16).toString("hex");
  }
}

const INVALID = Symbol("invalid");

function describeValue(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : describe(value);
}

function describe(value: unknown): string {
  return value === null ? "null" : typeof value;
}

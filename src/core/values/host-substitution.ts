/**
 * Finding platform objects inside a value before V8 serializes it, and replacing them. V8's
 * serializer cannot be told that a Node `Headers` is special (it is a plain JavaScript object to
 * V8), so the value is walked first the way V8 will walk it: own enumerable properties, array
 * elements, Map and Set entries. Only a value that holds one is copied, with each platform
 * object replaced by a placeholder V8 hands back to the serializer (see value-serializer.ts).
 */
import { types } from "node:util";
import {
  encodeHost,
  HOST_TAGS,
  type HostRecord,
  type HostTag,
  hostClassOf,
  refusal,
} from "./host-objects.ts";

/** What a placeholder stands for: the platform object's tag and the record it is written as. */
export interface HostPlaceholder {
  tag: HostTag;
  record: HostRecord;
}

// How V8 serializes instances of a prototype, cached per prototype.
const PLAIN = 0; // own enumerable properties (plain objects and class instances alike)
const ARRAY = 1;
const MAP = 2;
const SET = 3;
const LEAF = 4; // serialized whole by V8, nothing inside to look at (Date, typed arrays, Error…)
const HOST = 5; // a platform object (host-objects.ts decides)
const ERROR = 6; // V8 writes name, message, stack and cause: the cause may hold one
type Kind =
  | typeof PLAIN
  | typeof ARRAY
  | typeof MAP
  | typeof SET
  | typeof LEAF
  | typeof HOST
  | typeof ERROR;

const kinds = new WeakMap<object, Kind>();
let leaves: Set<object> | undefined;

function leafPrototypes(): Set<object> {
  const typedArray = Object.getPrototypeOf(Uint8Array.prototype) as object;
  return new Set<object>([
    Date.prototype,
    RegExp.prototype,
    ArrayBuffer.prototype,
    SharedArrayBuffer.prototype,
    typedArray,
    DataView.prototype,
    Boolean.prototype,
    Number.prototype,
    String.prototype,
    BigInt.prototype,
    Symbol.prototype,
    Promise.prototype,
    WeakMap.prototype,
    WeakSet.prototype,
    WeakRef.prototype,
  ]);
}

function kindOf(proto: object | null): Kind {
  if (proto === Object.prototype || proto === null) return PLAIN;
  if (proto === Array.prototype) return ARRAY;
  let kind = kinds.get(proto);
  if (kind === undefined) {
    kind = classify(proto);
    kinds.set(proto, kind);
  }
  return kind;
}

function classify(proto: object): Kind {
  if (hostClassOf(proto) !== undefined) return HOST;
  leaves ??= leafPrototypes();
  for (let p: object | null = proto; p !== null; p = Object.getPrototypeOf(p)) {
    if (p === Array.prototype) return ARRAY;
    if (p === Map.prototype) return MAP;
    if (p === Set.prototype) return SET;
    if (p === Error.prototype) return ERROR;
    if (leaves.has(p)) return LEAF;
  }
  return PLAIN;
}

/** Instances whose prototype says Map/Set/Array but are not (Object.create(Map.prototype)). */
function kindOfValue(value: object): Kind {
  const kind = kindOf(Object.getPrototypeOf(value));
  if (kind === MAP && !types.isMap(value)) return PLAIN;
  if (kind === SET && !types.isSet(value)) return PLAIN;
  if (kind === ARRAY && !Array.isArray(value)) return PLAIN;
  return kind;
}

/** Above this length an array is walked by its keys, so a sparse array costs what it holds. */
const DENSE_WALK_LIMIT = 65_536;
/**
 * Most values are small trees, walked without remembering what was seen. Past this many objects
 * or this depth (a cycle, or a shared subtree met again and again) the walk restarts and keeps
 * a set of seen objects, as V8 does.
 */
const TREE_WALK_BUDGET = 4_096;
const TREE_WALK_DEPTH = 256;
const RESTART = Symbol("restart with a seen set");

interface Walk {
  /** Objects already looked at; undefined while the value is walked as a tree. */
  seen: Set<object> | undefined;
  /** Objects left before a tree walk restarts with `seen`. */
  budget: number;
}

/**
 * True when `value` holds a platform object V8 would reach. Throws workerd's `DataCloneError`
 * for the first refused one found before any stored one (a URL, a stream…).
 */
export function holdsHostObject(value: object): boolean {
  try {
    return scan(value, { seen: undefined, budget: TREE_WALK_BUDGET }, 0);
  } catch (error) {
    if (error !== RESTART) throw error;
    return scan(value, { seen: new Set(), budget: 0 }, 0);
  }
}

function scan(value: object, walk: Walk, depth: number): boolean {
  if (walk.seen !== undefined) {
    if (walk.seen.has(value)) return false;
    walk.seen.add(value);
  } else if (--walk.budget < 0 || depth > TREE_WALK_DEPTH) {
    throw RESTART;
  }
  const next = depth + 1;
  const proto = Object.getPrototypeOf(value);
  // Plain objects and arrays first, without a lookup: nearly every value is made of them.
  const kind =
    proto === Object.prototype ? PLAIN : proto === Array.prototype ? ARRAY : kindOfValue(value);
  switch (kind) {
    case PLAIN: {
      const record = value as Record<string, unknown>;
      // for-in also visits inherited enumerable properties V8 skips: at worst a false alarm,
      // which substituteHosts (own properties only) settles.
      for (const key in record) {
        const item = record[key];
        if (typeof item === "object" && item !== null && scan(item, walk, next)) return true;
      }
      return false;
    }
    case ARRAY:
      return scanArray(value as unknown[], walk, next);
    case MAP:
    case SET: {
      // forEach: no [key, value] array per entry. (A Set passes each member as key and value.)
      let found = false;
      (value as Map<unknown, unknown>).forEach((item, key) => {
        if (found) return;
        if (typeof key === "object" && key !== null && scan(key, walk, next)) found = true;
        else if (item !== key && typeof item === "object" && item !== null) {
          found = scan(item, walk, next);
        }
      });
      return found;
    }
    case LEAF:
      return false;
    case ERROR: {
      const cause = causeOf(value);
      return typeof cause === "object" && cause !== null && scan(cause, walk, next);
    }
    case HOST: {
      const how = hostClassOf(Object.getPrototypeOf(value))!;
      if (how.kind === "refused") throw refusal(value, how);
      return true;
    }
  }
}

/** An array's elements; its own function so the element loads stay fast (monomorphic). */
function scanArray(array: unknown[], walk: Walk, depth: number): boolean {
  if (array.length > DENSE_WALK_LIMIT) {
    for (const key in array) {
      const item = array[key as unknown as number];
      if (typeof item === "object" && item !== null && scan(item, walk, depth)) return true;
    }
    return false;
  }
  let i = typeof array[0] === "number" ? skipNumbers(array) : 0;
  for (; i < array.length; i++) {
    const item = array[i];
    if (typeof item === "object" && item !== null && scan(item, walk, depth)) return true;
  }
  return false;
}

/**
 * The index of the first element of `array` that is not a number. Its own function so that on
 * arrays of doubles the load site stays monomorphic and each element is read unboxed: in the
 * shared loop above, a double is boxed on every read (10,000 doubles: about 20 µs, not 3).
 */
function skipNumbers(array: unknown[]): number {
  let i = 0;
  while (i < array.length && typeof array[i] === "number") i++;
  return i;
}

/** An error's own `cause`, the one V8 writes. */
function causeOf(error: object): unknown {
  return Object.hasOwn(error, "cause") ? (error as Error).cause : undefined;
}

/**
 * A copy of `value` with every platform object replaced by a placeholder (an empty
 * `Uint8Array`, which V8 passes to the serializer's host-object hook), recorded in
 * `placeholders`. Shared and cyclic references stay shared; what V8 would drop anyway
 * (prototypes, symbol keys, non-enumerable properties) is dropped here too.
 */
export function substituteHosts(
  value: object,
  placeholders: Map<object, HostPlaceholder>,
): unknown {
  const copies = new Map<object, unknown>();
  const copy = (item: unknown): unknown => {
    if (typeof item !== "object" || item === null) return item;
    const done = copies.get(item);
    if (done !== undefined) return done;
    switch (kindOfValue(item)) {
      case PLAIN:
      case ARRAY: {
        const out = (Array.isArray(item) ? new Array(item.length) : {}) as Record<string, unknown>;
        copies.set(item, out);
        const source = item as Record<string, unknown>;
        for (const key of Object.keys(source)) setOwn(out, key, copy(source[key]));
        return out;
      }
      case MAP: {
        const out = new Map<unknown, unknown>();
        copies.set(item, out);
        for (const [key, entry] of item as Map<unknown, unknown>) out.set(copy(key), copy(entry));
        return out;
      }
      case SET: {
        const out = new Set<unknown>();
        copies.set(item, out);
        for (const entry of item as Set<unknown>) out.add(copy(entry));
        return out;
      }
      case LEAF:
        return item;
      case ERROR: {
        if (!Object.hasOwn(item, "cause")) return item;
        // A new error V8 writes the same way: it reads the type from `name`.
        const error = item as Error;
        const out = new Error(String(error.message));
        copies.set(item, out);
        if (error.name !== "Error") setOwn(out as never, "name", error.name);
        if (typeof error.stack === "string") setOwn(out as never, "stack", error.stack);
        setOwn(out as never, "cause", copy(error.cause));
        return out;
      }
      case HOST: {
        const how = hostClassOf(Object.getPrototypeOf(item))!;
        if (how.kind === "refused") throw refusal(item, how);
        const placeholder = new Uint8Array(0);
        copies.set(item, placeholder);
        placeholders.set(placeholder, {
          tag: HOST_TAGS[how.name],
          record: encodeHost(item, how.name),
        });
        return placeholder;
      }
    }
  };
  return copy(value);
}

/**
 * `out[key] = value`, except that "__proto__" (and an error's name, stack and cause) become own
 * data properties, as V8 writes and reads them.
 */
function setOwn(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__" || out instanceof Error) {
    Object.defineProperty(out, key, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  } else {
    out[key] = value;
  }
}

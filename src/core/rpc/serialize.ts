import { RpcTarget } from "../base-classes.ts";
import { SteadError } from "../errors.ts";
import { unsupportedTypeError } from "../values/data-clone-error.ts";
import {
  constructorName,
  copyHeaders,
  type HostClass,
  hostClassOf,
  refusal,
} from "../values/host-objects.ts";

/** Largest serialized RPC message, in bytes. */
export const MAX_RPC_BYTES = 32 * 1024 * 1024;

/** How by-reference values become callable stubs on the other side. */
export interface ReferenceFactory {
  /** True for stubs, which pass through unchanged. */
  isStub(value: object): boolean;
  /** A stub that calls `fn` asynchronously, with its arguments cloned. */
  functionStub(fn: Function): Function;
  /** A stub whose members call into `target`. */
  targetStub(target: RpcTarget): object;
}

const STRUCTURED_LEAVES = new Set<Function>([
  Date,
  RegExp,
  ArrayBuffer,
  DataView,
  Boolean,
  Number,
  String,
  BigInt,
]);

/** Passed by reference in-process: their bodies are streams whose ownership moves. */
function isTransferredByReference(value: object): boolean {
  return (
    value instanceof Request ||
    value instanceof Response ||
    value instanceof ReadableStream ||
    value instanceof WritableStream
  );
}

/**
 * The other side's copy of a platform object, as workerd's RPC serializer makes it: Headers and
 * DOMException copied, a Blob a new Blob over the same bytes; every class workerd cannot serialize
 * (URL, File, FormData, AbortSignal, Event…) a `DataCloneError` with workerd's text.
 */
function cloneHost(value: object, how: HostClass, state: CloneState): unknown {
  if (how.kind === "refused") throw refusal(value, how);
  switch (how.name) {
    case "Headers":
      return copyHeaders(value as Headers);
    case "Blob": {
      // A new Blob over the same immutable bytes: nothing is read or copied.
      const blob = value as Blob;
      count(state, blob.size);
      return blob.slice(0, blob.size, blob.type);
    }
    case "DOMException": {
      const error = value as DOMException;
      return new DOMException(error.message, error.name);
    }
    default:
      return value;
  }
}

/**
 * Copies a value across the RPC boundary: structured clone for data (so neither side sees the
 * other's later mutations), stubs for functions and `RpcTarget`s. Instances of other classes are
 * rejected with workerd's `DataCloneError`, instead of silently losing their prototype; extend
 * `RpcTarget` to pass one by reference.
 */
export function cloneForRpc(value: unknown, refs: ReferenceFactory): unknown {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) {
    if (typeof value === "string" && value.length > MAX_RPC_BYTES) throw tooLarge(value.length);
    return value;
  }
  const state = { bytes: 0, seen: new Map<object, unknown>() };
  return clone(value, refs, state);
}

interface CloneState {
  bytes: number;
  seen: Map<object, unknown>;
}

function clone(value: unknown, refs: ReferenceFactory, state: CloneState): unknown {
  if (value === null) return value;
  switch (typeof value) {
    case "string":
      count(state, value.length);
      return value;
    case "function":
      return refs.isStub(value) ? value : refs.functionStub(value);
    case "object":
      break;
    default:
      return value;
  }
  const seen = state.seen.get(value);
  if (seen !== undefined) return seen;
  if (refs.isStub(value) || isTransferredByReference(value)) return value;
  if (value instanceof RpcTarget) return remember(state, value, refs.targetStub(value));
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    state.seen.set(value, copy);
    for (let i = 0; i < value.length; i++) copy[i] = clone(value[i], refs, state);
    return copy;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const copy: Record<string, unknown> = proto === null ? Object.create(null) : {};
    state.seen.set(value, copy);
    for (const key of Object.keys(value)) {
      count(state, key.length);
      copy[key] = clone((value as Record<string, unknown>)[key], refs, state);
    }
    return copy;
  }
  const how = hostClassOf(proto);
  if (how !== undefined) return remember(state, value, cloneHost(value, how, state));
  if (value instanceof Map) {
    const copy = new Map();
    state.seen.set(value, copy);
    for (const [k, v] of value) copy.set(clone(k, refs, state), clone(v, refs, state));
    return copy;
  }
  if (value instanceof Set) {
    const copy = new Set();
    state.seen.set(value, copy);
    for (const v of value) copy.add(clone(v, refs, state));
    return copy;
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    count(state, value.byteLength);
    return remember(state, value, structuredClone(value));
  }
  if (value instanceof Error) return remember(state, value, cloneError(value));
  if (value.constructor && STRUCTURED_LEAVES.has(value.constructor)) {
    return remember(state, value, structuredClone(value));
  }
  throw unsupportedTypeError(constructorName(value));
}

const STANDARD_ERRORS: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/**
 * The copy of an error the other side sees: same name and message, a fresh stack, no `cause`
 * or other own properties except Cloudflare's `remote`/`retryable`/`overloaded` flags.
 */
export function cloneError(error: Error): Error {
  if (error instanceof DOMException) return new DOMException(error.message, error.name);
  if (error instanceof SteadError) {
    const copy = new SteadError(error.code, error.message, {
      retryable: error.retryable,
      overloaded: error.overloaded,
      remote: error.remote,
    });
    return copy;
  }
  const Ctor = STANDARD_ERRORS[error.name] ?? Error;
  const copy = new Ctor(String(error.message));
  if (!(error.name in STANDARD_ERRORS)) copy.name = error.name;
  return copy;
}

function remember(state: CloneState, original: object, copy: unknown): unknown {
  state.seen.set(original, copy);
  return copy;
}

function count(state: CloneState, bytes: number): void {
  state.bytes += bytes;
  if (state.bytes > MAX_RPC_BYTES) throw tooLarge(state.bytes);
}

function tooLarge(bytes: number): RangeError {
  return new RangeError(
    `RPC message too large: over ${bytes} bytes, the limit is ${MAX_RPC_BYTES}. Send large data as a ReadableStream instead.`,
  );
}

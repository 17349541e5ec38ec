import { DurableObject, RpcTarget, WorkerEntrypoint } from "../base-classes.ts";
import { SteadError } from "../errors.ts";
import { currentObject, type ObjectContext, sendFromCurrent } from "../gates/context.ts";
import { cloneError, cloneForRpc, type ReferenceFactory } from "./serialize.ts";

/** Calls a member (`args` given) or reads a property (`args` undefined) on the far side. */
export type Invoke = (member: string, args: unknown[] | undefined) => Promise<unknown>;

/** Names never callable over RPC on a Durable Object or WorkerEntrypoint. */
const RESERVED = new Set([
  "fetch",
  "connect",
  "alarm",
  "webSocketMessage",
  "webSocketClose",
  "webSocketError",
  "constructor",
  "dup",
]);
/** On an RpcTarget only these are off limits. */
const RESERVED_ON_TARGET = new Set(["constructor", "dup"]);

const stubs = new WeakSet<object>();

/** Marks a function made elsewhere (a call into another thread) as a stub, passed as it is. */
export function markStub<T extends object>(value: T): T {
  stubs.add(value);
  return value;
}

/** True for every stub Stead made (object stubs, target stubs, function stubs). */
export function isStub(value: object): boolean {
  return stubs.has(value);
}

/** The error for calling a member the receiver does not offer over RPC. */
function notImplementedError(member: string): TypeError {
  return new TypeError(`The RPC receiver does not implement the method "${member}".`);
}

/**
 * Every stub's `constructor`: never an RPC member, so calling or awaiting it fails as a call of
 * an unknown method would. One shared value keeps two stubs of one object deep-equal
 * (`assert.deepStrictEqual` compares constructors), as on workerd.
 */
const CONSTRUCTOR = Object.freeze(
  Object.assign(() => Promise.reject(notImplementedError("constructor")), {
    // biome-ignore lint/suspicious/noThenProperty: awaiting `stub.constructor` fails as a read would.
    then: (_onFulfilled?: unknown, onRejected?: (e: unknown) => unknown) =>
      Promise.reject(notImplementedError("constructor")).then(undefined, onRejected),
  }),
);

/**
 * Builds a stub: a Proxy whose every string member is callable (`stub.m(...)`) and awaitable
 * (`await stub.prop`). `own` members become the stub's own enumerable, read-only properties
 * (an object stub's `id` and `name`, as workerd shows them to `Object.keys` and spreading);
 * `fixed` members (fetch, dup, dispose) are returned as they are. Properties the app sets on the
 * stub stay there and win over RPC. `then` is undefined so a stub is never taken for a promise.
 */
export function makeStub(
  invoke: Invoke,
  fixed: Record<PropertyKey, unknown>,
  own?: Record<string, unknown>,
): any {
  const target = Object.create(null) as Record<PropertyKey, unknown>;
  if (own !== undefined) {
    for (const key in own) {
      Object.defineProperty(target, key, { value: own[key], enumerable: true, writable: false });
    }
  }
  const stub = new Proxy(target, new StubHandler(invoke, fixed));
  stubs.add(stub);
  return stub;
}

/** The traps of one stub: a class, so a stub costs one object here rather than two closures. */
class StubHandler implements ProxyHandler<Record<PropertyKey, unknown>> {
  readonly #invoke: Invoke;
  readonly #fixed: Record<PropertyKey, unknown>;

  constructor(invoke: Invoke, fixed: Record<PropertyKey, unknown>) {
    this.#invoke = invoke;
    this.#fixed = fixed;
  }

  get(target: Record<PropertyKey, unknown>, prop: string | symbol): unknown {
    if (Object.hasOwn(target, prop)) return target[prop];
    const fixed = this.#fixed;
    if (Object.hasOwn(fixed, prop)) return fixed[prop];
    if (typeof prop === "symbol" || prop === "then") return undefined;
    if (prop === "constructor") return CONSTRUCTOR;
    const invoke = this.#invoke;
    const call = (...args: unknown[]) => invoke(prop, args);
    // biome-ignore lint/suspicious/noThenProperty: awaiting `stub.prop` reads the property over RPC.
    call.then = (onFulfilled?: (v: unknown) => unknown, onRejected?: (e: unknown) => unknown) =>
      invoke(prop, undefined).then(onFulfilled, onRejected);
    return call;
  }

  has(target: Record<PropertyKey, unknown>, prop: string | symbol): boolean {
    return Object.hasOwn(target, prop) || Object.hasOwn(this.#fixed, prop);
  }
}

/**
 * Runs an RPC call or property read on a local receiver: a Durable Object, a WorkerEntrypoint
 * or an RpcTarget. Only members of the class's prototype chain are exposed (not instance
 * fields, so `ctx` and `env` stay private); reserved names are refused.
 */
export function callMember(receiver: object, member: string, args: unknown[] | undefined): unknown {
  const isTarget = receiver instanceof RpcTarget;
  const reserved = isTarget ? RESERVED_ON_TARGET : RESERVED;
  const descriptor = reserved.has(member) ? undefined : findOnPrototype(receiver, member);
  if (descriptor === undefined) throw notImplementedError(member);
  if (descriptor.get) {
    const value = descriptor.get.call(receiver);
    return args === undefined ? value : callValue(value, receiver, member, args);
  }
  const value = descriptor.value;
  if (args === undefined) {
    return typeof value === "function" ? value.bind(receiver) : value;
  }
  return callValue(value, receiver, member, args);
}

function callValue(value: unknown, receiver: object, member: string, args: unknown[]): unknown {
  if (typeof value !== "function") {
    throw new TypeError(
      `"${member}" is a property, not a method: read it with \`await stub.${member}\`.`,
    );
  }
  return value.apply(receiver, args);
}

const STOP = new Set<object>([
  Object.prototype,
  DurableObject.prototype,
  WorkerEntrypoint.prototype,
  RpcTarget.prototype,
]);

function findOnPrototype(receiver: object, member: string): PropertyDescriptor | undefined {
  for (
    let proto = Object.getPrototypeOf(receiver);
    proto !== null && !STOP.has(proto);
    proto = Object.getPrototypeOf(proto)
  ) {
    const descriptor = Object.getOwnPropertyDescriptor(proto, member);
    if (descriptor) return descriptor;
  }
  return undefined;
}

/** The error a caller sees for an error thrown on the far side: a copy marked `remote`. */
export function remoteError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const copy = cloneError(error) as Error & { remote?: boolean };
  if (!(copy instanceof SteadError)) copy.remote = true;
  return copy;
}

/**
 * Calls local code as if it were remote: asynchronously, with a cloned result and error. Code
 * that an object handed out (`owner`) runs as a new event of that object, through its gates,
 * as a call into a Durable Object does on Cloudflare.
 */
function callLocal(owner: ObjectContext | undefined, fn: () => unknown): Promise<unknown> {
  const run = async () => cloneForRpc(await fn(), references);
  const result =
    owner === undefined ? Promise.resolve().then(run) : sendFromCurrent(() => owner.deliver(run));
  return result.then(undefined, (error: unknown) => {
    throw remoteError(error);
  });
}

function disposedError(): SteadError {
  return new SteadError("STUB_DISPOSED", "Attempted to use RPC stub after it has been disposed.");
}

function targetStub(
  target: RpcTarget,
  owner: ObjectContext | undefined,
  shared = { refs: 1 },
): any {
  let disposed = false;
  const invoke: Invoke = (member, args) => {
    if (disposed) return Promise.reject(disposedError());
    let cloned: unknown[] | undefined;
    try {
      cloned = args === undefined ? undefined : (cloneForRpc(args, references) as unknown[]);
    } catch (error) {
      return Promise.reject(error);
    }
    return callLocal(owner, () => callMember(target, member, cloned));
  };
  return makeStub(invoke, {
    dup: () => {
      shared.refs++;
      return targetStub(target, owner, shared);
    },
    [Symbol.dispose]: () => {
      if (disposed) return;
      disposed = true;
      if (--shared.refs === 0) (target as Partial<Disposable>)[Symbol.dispose]?.();
    },
  });
}

/** How functions and RpcTargets cross the boundary in-process. */
export const references: ReferenceFactory = {
  isStub,
  functionStub(fn) {
    const owner = currentObject();
    const stub = (...args: unknown[]) => {
      let cloned: unknown[];
      try {
        cloned = cloneForRpc(args, references) as unknown[];
      } catch (error) {
        return Promise.reject(error);
      }
      return callLocal(owner, () => fn(...cloned));
    };
    stubs.add(stub);
    return stub;
  },
  targetStub: (target) => targetStub(target, currentObject()),
};

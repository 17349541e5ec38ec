import { SteadError } from "../core/errors.ts";
import { sendFromCurrent } from "../core/gates/context.ts";
import { DurableObjectId } from "../core/ids/object-id.ts";
import { type ObjectRoute, objectStub, STUB_TARGET } from "../core/object/namespace.ts";
import type { ObjectEvent } from "../core/object/object-class.ts";
import { cloneForRpc } from "../core/rpc/serialize.ts";
import { isStub, makeStub, markStub, references, remoteError } from "../core/rpc/stub.ts";

/**
 * What RPC passes by reference (functions, `RpcTarget`s, stubs) crossing to another thread.
 * On one thread these are stubs that call back into the value; between threads each becomes a
 * marker: a function or RpcTarget is kept in the sending thread's table under a number, and the
 * far side gets a stub that calls it through the threads (`HandleHost.call`); an object stub
 * becomes the object's namespace and id, and the far side makes its own stub of that object.
 * A far-side stub that is disposed, or collected, releases its entry.
 */

/** A value kept by the thread `thread` (-1: the main thread) under `handle`. */
export interface HandleRef {
  thread: number;
  handle: number;
}

type Marker =
  | { kind: "function" | "target"; thread: number; handle: number }
  | {
      kind: "object";
      namespace: string;
      id: string;
      name: string | undefined;
      jurisdiction: string | undefined;
    }
  /** Headers, which RPC copies but `postMessage` cannot clone. */
  | { kind: "headers"; entries: [string, string][] };

const MARK = "__steadThreadReference";

/** What a thread provides to the references that cross it. */
export interface HandleHost {
  /** This thread's number; -1 for the main thread. */
  readonly thread: number;
  /** The route of a namespace on this thread, for object stubs that arrive. */
  route(namespace: string): ObjectRoute | undefined;
  /** Calls (`member` undefined: the function itself) a value another thread keeps. */
  call(ref: HandleRef, member: string | undefined, args: unknown[] | undefined): Promise<unknown>;
  /** Tells the thread that keeps a value that no stub here needs it any more. */
  release(ref: HandleRef): void;
}

/** One thread's table of values it handed to other threads, and its way to revive theirs. */
export class Handles {
  readonly #host: HandleHost;
  #next = 0;
  readonly #table = new Map<number, unknown>();
  readonly #collected: FinalizationRegistry<HandleRef>;

  constructor(host: HandleHost) {
    this.#host = host;
    this.#collected = new FinalizationRegistry((ref) => host.release(ref));
  }

  /** A copy of `value` (an RPC value, already cloned) with every reference made a marker. */
  export(value: unknown): unknown {
    return this.#export(value, new Map());
  }

  /** A copy of `value` with every marker made a stub again. */
  import(value: unknown): unknown {
    return this.#import(value, new Map());
  }

  /** Runs a call (`event`, an RPC event) of a value this thread handed out. */
  invoke(
    target: { handle: number; member: string | undefined },
    event: ObjectEvent,
  ): Promise<unknown> {
    const { handle, member } = target;
    const args = event.kind === "rpc" ? event.args : undefined;
    const value = this.#table.get(handle) as any;
    if (value === undefined) {
      return Promise.reject(
        new SteadError("STUB_DISPOSED", "Attempted to use RPC stub after it has been disposed."),
      );
    }
    if (member === undefined) return Promise.resolve().then(() => value(...(args ?? [])));
    // A target stub: awaiting a member reads it, calling it calls the method.
    return Promise.resolve().then(() =>
      args === undefined ? value[member] : value[member](...args),
    );
  }

  /** Forgets a value handed out; a target stub is disposed. */
  release(handle: number): void {
    const value = this.#table.get(handle) as Partial<Disposable> | undefined;
    this.#table.delete(handle);
    if (value !== undefined && typeof value !== "function") value[Symbol.dispose]?.();
  }

  #keep(value: unknown, kind: "function" | "target"): { [MARK]: Marker } {
    const handle = ++this.#next;
    this.#table.set(handle, value);
    return { [MARK]: { kind, thread: this.#host.thread, handle } };
  }

  #export(value: unknown, seen: Map<object, unknown>): unknown {
    if (typeof value === "function") return this.#keep(value, "function");
    if (value === null || typeof value !== "object") return value;
    const known = seen.get(value);
    if (known !== undefined) return known;
    if (isStub(value)) {
      const target = (value as Record<symbol, { controller: ObjectRoute; id: DurableObjectId }>)[
        STUB_TARGET
      ];
      if (target === undefined) return this.#keep(value, "target");
      const { controller, id } = target;
      return {
        [MARK]: {
          kind: "object",
          namespace: controller.namespace,
          id: id.toString(),
          name: id.name,
          jurisdiction: id.jurisdiction,
        },
      };
    }
    if (value instanceof Headers) return { [MARK]: { kind: "headers", entries: [...value] } };
    return this.#walk(value, seen, (item) => this.#export(item, seen));
  }

  #import(value: unknown, seen: Map<object, unknown>): unknown {
    if (value === null || typeof value !== "object") return value;
    const known = seen.get(value);
    if (known !== undefined) return known;
    const marker = (value as { [MARK]?: Marker })[MARK];
    if (marker !== undefined && Object.getPrototypeOf(value) === Object.prototype) {
      return this.#revive(marker);
    }
    return this.#walk(value, seen, (item) => this.#import(item, seen));
  }

  /** Copies arrays, plain objects, Maps and Sets with `each` applied; other values stay. */
  #walk(value: object, seen: Map<object, unknown>, each: (item: unknown) => unknown): unknown {
    if (Array.isArray(value)) {
      const copy: unknown[] = [];
      seen.set(value, copy);
      for (const item of value) copy.push(each(item));
      return copy;
    }
    if (value instanceof Map) {
      const copy = new Map();
      seen.set(value, copy);
      for (const [key, item] of value) copy.set(each(key), each(item));
      return copy;
    }
    if (value instanceof Set) {
      const copy = new Set();
      seen.set(value, copy);
      for (const item of value) copy.add(each(item));
      return copy;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return value;
    const copy: Record<string, unknown> = proto === null ? Object.create(null) : {};
    seen.set(value, copy);
    for (const [key, item] of Object.entries(value)) copy[key] = each(item);
    return copy;
  }

  #revive(marker: Marker): unknown {
    if (marker.kind === "headers") return new Headers(marker.entries);
    if (marker.kind === "object") {
      const route = this.#host.route(marker.namespace);
      if (route === undefined) {
        throw new TypeError(
          `A stub of an object of class storage "${marker.namespace}" arrived, but this app exports no class stored there.`,
        );
      }
      return objectStub(route, new DurableObjectId(marker.id, marker.name, marker.jurisdiction));
    }
    const ref: HandleRef = { thread: marker.thread, handle: marker.handle };
    if (marker.kind === "function") {
      const fn = markStub((...args: unknown[]) => this.#call(ref, undefined, args));
      this.#collected.register(fn, ref);
      return fn;
    }
    const token = {};
    let released = false;
    const stub = makeStub((member, args) => this.#call(ref, member, args), {
      [Symbol.dispose]: () => {
        if (released) return;
        released = true;
        this.#collected.unregister(token);
        this.#host.release(ref);
      },
    });
    this.#collected.register(stub, ref, token);
    return stub;
  }

  #call(ref: HandleRef, member: string | undefined, args: unknown[] | undefined): Promise<unknown> {
    let cloned: unknown[] | undefined;
    try {
      cloned = args === undefined ? undefined : (cloneForRpc(args, references) as unknown[]);
    } catch (error) {
      return Promise.reject(error);
    }
    return sendFromCurrent(() => this.#host.call(ref, member, cloned)).then(
      undefined,
      (error: unknown) => {
        throw remoteError(error);
      },
    );
  }
}

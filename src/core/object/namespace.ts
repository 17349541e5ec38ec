import type { AlarmOutcome } from "../alarms/run-alarm.ts";
import type { Clock } from "../clock.ts";
import { SteadError } from "../errors.ts";
import type { ChangeFeed } from "../feed/change-feed.ts";
import { runOutsideObject, sendFromCurrent } from "../gates/context.ts";
import type { NameCache } from "../ids/name-cache.ts";
import { DurableObjectId, IdFactory } from "../ids/object-id.ts";
import { ObjectCounters, type ObjectGauges } from "../metrics/object-counters.ts";
import { cloneForRpc } from "../rpc/serialize.ts";
import { makeStub, references, remoteError } from "../rpc/stub.ts";
import type { AlarmRecord, StorageDriver } from "../storage/driver.ts";
import type { StorageBackend } from "../storage/kv-limits.ts";
import { DeferredRoute } from "./deferred-route.ts";
import type { ObjectClass, ObjectEvent, ObjectLimits } from "./object-class.ts";
import type { NodeAddress, ObjectForwarder } from "./object-forwarder.ts";
import { ObjectHost } from "./object-host.ts";
import { ObjectPlacement } from "./object-placement.ts";
import type { DurableObjectState } from "./object-state.ts";
import type { Residency } from "./residency.ts";

/** Everything a namespace is made from. */
export interface NamespaceOptions {
  /** The class's storage namespace (its directory under the data dir). */
  namespace: string;
  /** The namespace's id key; ids minted with another key are rejected. */
  uniqueKey: string;
  ctor: new (ctx: DurableObjectState, env: any) => object;
  env: object;
  /** `ctx.exports` of the class's objects (filled in by the runtime once every binding exists). */
  exports: object;
  backend: StorageBackend;
  driver: StorageDriver;
  clock: Clock;
  limits: ObjectLimits;
  /** The runtime-wide bound on objects in memory. */
  residency: Residency;
  /** The runtime-wide cache of named ids. */
  names: NameCache;
  deleteAllDeletesAlarm: boolean;
  /** Captures every commit of the class's objects for a change feed; absent: none is. */
  feed?: ChangeFeed | undefined;
  alarmIndexChanged(): void;
  /** Receives errors nobody else sees (failed WebSocket event handlers). Default: stderr. */
  onError?: (error: unknown, context: string) => void;
  /** Reaches objects other cluster nodes hold; absent on a single node. */
  forwarder?: ObjectForwarder;
  /**
   * Asked before every event: an error refuses it and resets every live object (a cluster node
   * whose lease lapsed must not serve even a read); a promise holds the event until it settles
   * with the error to refuse it with, or the node to send it to instead (a node handing its
   * objects over). Absent: every event is taken.
   */
  refuse?: () => Error | Promise<Error | NodeAddress> | undefined;
}

/** Internal handle on a namespace (its `ObjectRoute`), for the runtime and `stead/testing`. */
export const CONTROLLER = Symbol("stead.namespace");
/** Internal handle on an object stub: its namespace controller and id. */
export const STUB_TARGET = Symbol("stead.stub");

/**
 * How stubs reach the objects of one namespace: this thread's `NamespaceController`, or a route
 * to the thread that owns the object (`threads/`).
 */
export interface ObjectRoute {
  /** The namespace's storage name (as the driver and the alarm index name it). */
  readonly namespace: string;
  /** Makes and checks the namespace's ids. */
  readonly ids: IdFactory;
  /** Checks that `id` belongs here, as `get()` requires; throws Cloudflare's TypeError if not. */
  checkId(id: unknown): DurableObjectId;
  /**
   * Sends an event on behalf of the current code: an object calling out waits for its own
   * output gate first, and gets the result back only when its input gate is open.
   */
  send(id: DurableObjectId, event: ObjectEvent): Promise<unknown>;
}

/** The runtime side of a namespace: its live objects and how events reach them. */
export class NamespaceController implements ObjectClass, ObjectRoute {
  readonly namespace: string;
  readonly ids: IdFactory;
  readonly ctor: NamespaceOptions["ctor"];
  readonly env: object;
  readonly exports: object;
  readonly backend: StorageBackend;
  readonly driver: StorageDriver;
  readonly clock: Clock;
  readonly limits: ObjectLimits;
  readonly residency: Residency;
  readonly deleteAllDeletesAlarm: boolean;
  readonly feed: ChangeFeed | undefined;
  readonly counters = new ObjectCounters();
  readonly #alarmIndexChanged: () => void;
  readonly #onError: (error: unknown, context: string) => void;
  readonly #hosts = new Map<string, ObjectHost>();
  readonly #forwarder: ObjectForwarder | undefined;
  /** In a cluster: where each object is (here, or the node that holds it). */
  readonly #placement: ObjectPlacement | undefined;
  readonly #refuse: (() => Error | Promise<Error | NodeAddress> | undefined) | undefined;
  #closed = false;

  constructor(options: NamespaceOptions) {
    this.namespace = options.namespace;
    this.ids = new IdFactory(options.uniqueKey, options.names);
    this.ctor = options.ctor;
    this.env = options.env;
    this.exports = options.exports;
    this.backend = options.backend;
    this.driver = options.driver;
    this.clock = options.clock;
    this.limits = options.limits;
    this.residency = options.residency;
    this.deleteAllDeletesAlarm = options.deleteAllDeletesAlarm;
    this.feed = options.feed;
    this.#alarmIndexChanged = options.alarmIndexChanged;
    this.#forwarder = options.forwarder;
    this.#placement =
      options.forwarder === undefined
        ? undefined
        : new ObjectPlacement(this.namespace, options.forwarder, (id, event) =>
            runOutsideObject(() => this.host(id).deliver(event)),
          );
    this.#refuse = options.refuse;
    this.#onError =
      options.onError ?? ((error, context) => console.error(`[stead] ${context}:`, error));
  }

  alarmIndexChanged(): void {
    this.#alarmIndexChanged();
  }

  reportError(error: unknown, context: string): void {
    this.#onError(error, context);
  }

  evicted(host: ObjectHost): void {
    const key = host.id.toString();
    if (this.#hosts.get(key) === host) this.#hosts.delete(key);
  }

  /** The host of `id`, made on first use; the only one for that id while it lives. */
  host(id: DurableObjectId): ObjectHost {
    const key = id.toString();
    let host = this.#hosts.get(key);
    if (host === undefined || host.evicted) {
      // Ids rebuilt from a string and a name (alarms, other threads) learn their jurisdiction.
      host = new ObjectHost(this, this.ids.complete(id));
      this.#hosts.set(key, host);
    }
    return host;
  }

  /**
   * Delivers an event outside the caller's context, to this node's object or, in a cluster, to
   * the node that holds it. `forwarded`: the event came from another node, which already chose
   * this one; it is not sent on.
   */
  deliver(id: DurableObjectId, event: ObjectEvent, forwarded = false): Promise<unknown> {
    // Asked first: a node handing its objects over holds events even once its objects closed.
    const refusal = this.#refuse?.();
    if (refusal instanceof Promise) {
      return refusal.then((outcome) => {
        if (outcome instanceof Error || this.#forwarder === undefined) throw outcome;
        return this.#forwarder.forward(outcome, this.namespace, id, event, false);
      });
    }
    if (this.#closed) {
      return Promise.reject(
        new SteadError(
          "RUNTIME_DISPOSED",
          "The runtime was disposed; create a new runtime to reach this object.",
        ),
      );
    }
    if (refusal !== undefined) {
      this.resetAll(refusal);
      return Promise.reject(refusal);
    }
    if (this.#placement === undefined || forwarded) {
      return runOutsideObject(() => this.host(id).deliver(event));
    }
    return this.#placement.deliver(id, event);
  }

  /** What the namespace's objects hold now (metrics): walks its live objects. */
  gauges(): ObjectGauges {
    const gauges: ObjectGauges = {
      active: 0,
      hibernated: 0,
      queued: 0,
      longestQueue: 0,
      hibernatableWebSockets: 0,
      standardWebSockets: 0,
    };
    for (const host of this.#hosts.values()) host.addGauges(gauges);
    return gauges;
  }

  /** True while any object of the namespace has events queued, running or being prepared for. */
  get busy(): boolean {
    for (const host of this.#hosts.values()) if (host.busy) return true;
    return false;
  }

  /**
   * Discards every live instance, failing their outputs with `error`; each object prepares its
   * database again before its next event (a cluster node that lost its lease).
   */
  resetAll(error: Error): void {
    for (const host of this.#hosts.values()) host.reset(error);
    this.#placement?.forget();
  }

  send(id: DurableObjectId, event: ObjectEvent): Promise<unknown> {
    return sendFromCurrent(() => this.deliver(id, event));
  }

  /** Delivers a due alarm, waking the object. */
  deliverAlarm(record: AlarmRecord): Promise<AlarmOutcome> {
    const id = new DurableObjectId(record.id, record.name);
    return this.deliver(id, { kind: "alarm", record }) as Promise<AlarmOutcome>;
  }

  /** Evicts every idle object and closes their databases (shutdown). */
  closeAll(): void {
    this.#closed = true;
    for (const host of this.#hosts.values()) host.close();
    this.#hosts.clear();
  }

  checkId(id: unknown): DurableObjectId {
    return checkNamespaceId(this.ids, id);
  }
}

/** Checks that `id` was made by `ids`' namespace, as `get()` requires. */
export function checkNamespaceId(ids: IdFactory, id: unknown): DurableObjectId {
  if (!(id instanceof DurableObjectId)) {
    throw new TypeError(
      "get() requires a DurableObjectId made by idFromName(), newUniqueId() or idFromString() of this namespace.",
    );
  }
  if (!ids.checks(id)) {
    throw new TypeError("Durable Object ID is not valid for this namespace.");
  }
  return id;
}

/** Errors that mean the stub's object connection is gone, so the stub is broken for good. */
function breaksStub(error: unknown): boolean {
  return (
    error instanceof SteadError &&
    (error.code === "OBJECT_RESET" || error.code === "STORAGE_FLUSH_FAILED")
  );
}

/** Makes the stub of one object. Creating it does not create or wake the object. */
export function objectStub(controller: ObjectRoute, id: DurableObjectId): DurableObjectStub {
  let broken: unknown;
  const call = (event: ObjectEvent): Promise<unknown> => {
    if (broken !== undefined) {
      return Promise.reject(
        new SteadError(
          "STUB_BROKEN",
          `This stub is broken by an earlier error (${(broken as Error).message}). Make a new stub with get() or getByName() and retry.`,
          { cause: broken, retryable: true },
        ),
      );
    }
    return controller.send(id, event).then(undefined, (error: unknown) => {
      const seen = remoteError(error);
      if (breaksStub(seen)) broken = seen;
      throw seen;
    });
  };
  const invoke = (member: string, args: unknown[] | undefined): Promise<unknown> => {
    let cloned: unknown[] | undefined;
    try {
      cloned = args === undefined ? undefined : (cloneForRpc(args, references) as unknown[]);
    } catch (error) {
      return Promise.reject(error);
    }
    return call({ kind: "rpc", member, args: cloned });
  };
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    // A Request passed alone crosses as it is (its body stream moves with it): copying it would
    // cost a second parse of every header on the pass-through path.
    const request =
      input instanceof Request && init === undefined ? input : new Request(input, init);
    const response = await call({ kind: "fetch", request });
    if (!(response instanceof Response)) {
      throw new TypeError(
        "Incorrect type for Promise: the Promise did not resolve to 'Response'. The Durable Object's fetch() must return a Response.",
      );
    }
    return response;
  };
  return makeStub(
    invoke,
    {
      fetch,
      connect: () => {
        throw new TypeError("connect() is not supported on Durable Object stubs in Stead.");
      },
      dup: () => objectStub(controller, id),
      [Symbol.dispose]: () => {},
      [STUB_TARGET]: { controller, id },
    },
    // workerd: the stub's own properties, so `Object.keys(stub)` is ["id", "name"].
    { id, name: id.name },
  );
}

/** A member of the object as its stub shows it: methods return promises, properties are read as promises. */
type RpcMember<V> = V extends (...args: infer A) => infer R
  ? (...args: A) => Promise<Awaited<R>>
  : Promise<Awaited<V>>;

/** `T` is `any`: a stub of an untyped namespace takes any member. */
type IsAny<T> = 0 extends 1 & T ? true : false;

/**
 * A stub: `fetch`, `id`, `name`, plus every public member of the class as RPC, typed from the
 * class (`DurableObjectNamespace<Counter>` gives `stub.increment(by: number): Promise<number>`).
 */
export type DurableObjectStub<T = any> = {
  readonly id: DurableObjectId;
  readonly name: string | undefined;
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
} & (IsAny<T> extends true
  ? { [member: string]: any }
  : { [K in Exclude<keyof T, "fetch" | "id" | "name">]: RpcMember<T[K]> });

/** Options of `get`/`getByName`; accepted for compatibility, placement is local. */
export interface DurableObjectNamespaceGetDurableObjectOptions {
  locationHint?: string;
  routingMode?: string;
}

/**
 * A binding to a Durable Object class (`env.COUNTER`): makes ids and stubs.
 *
 * @example
 * const stub = env.COUNTER.getByName("room-1");
 * const n = await stub.increment();
 */
export class DurableObjectNamespace<T = any> {
  readonly #route: ObjectRoute | DeferredRoute;
  /** One jurisdiction's ids (`jurisdiction()`); undefined: the route's own, read when used. */
  readonly #jurisdictionIds: IdFactory | undefined;

  /** @internal */
  constructor(route: ObjectRoute | DeferredRoute, ids?: IdFactory) {
    this.#route = route;
    this.#jurisdictionIds = ids;
  }

  /** @internal How stubs of this namespace reach its objects. */
  get [CONTROLLER](): ObjectRoute {
    const route = this.#route;
    return route instanceof DeferredRoute ? route.current() : route;
  }

  /** The ids of this namespace, or of one jurisdiction of it. */
  get #ids(): IdFactory {
    return this.#jurisdictionIds ?? this[CONTROLLER].ids;
  }

  /**
   * A new random id that never repeats; with `{ jurisdiction }`, an id of that jurisdiction.
   *
   * @example
   * const id = env.ROOM.newUniqueId({ jurisdiction: "eu" });
   */
  newUniqueId(options?: { jurisdiction?: string | null }): DurableObjectId {
    const requested = options?.jurisdiction;
    if (requested === undefined || requested === null) return this.#ids.unique();
    const ids = this.#ids.withJurisdiction(requested);
    if (this.#ids.jurisdiction !== undefined && ids !== this.#ids) {
      throw new TypeError(
        `newUniqueId called on the "${this.#ids.jurisdiction}" jurisdictional subnamespace with jurisdiction "${requested}"; use the subnamespace of that jurisdiction, or omit the option.`,
      );
    }
    return ids.unique();
  }

  /**
   * The id for `name`; the same name always gives the same id in this namespace, and a
   * different one in each jurisdiction.
   */
  idFromName(name: string): DurableObjectId {
    return this.#ids.fromName(name);
  }

  /**
   * Parses an id's `toString()`; throws for malformed ids, ids of other namespaces and, on a
   * jurisdiction's subnamespace, ids of another jurisdiction.
   */
  idFromString(id: string): DurableObjectId {
    return this.#ids.fromString(id);
  }

  /**
   * The stub of `id`. Does not create or wake the object. The namespace takes ids of any
   * jurisdiction; a jurisdiction's subnamespace only its own.
   */
  get(
    id: DurableObjectId,
    _options?: DurableObjectNamespaceGetDurableObjectOptions,
  ): DurableObjectStub<T> {
    const controller = this[CONTROLLER];
    const checked = controller.checkId(id);
    if (!this.#ids.matchesJurisdiction(checked)) {
      throw new TypeError(
        "get called on jurisdictional subnamespace with an ID from a different jurisdiction",
      );
    }
    return objectStub(controller, checked) as DurableObjectStub<T>;
  }

  /** Shorthand for `get(idFromName(name))`. */
  getByName(
    name: string,
    options?: DurableObjectNamespaceGetDurableObjectOptions,
  ): DurableObjectStub<T> {
    return this.get(this.idFromName(name), options);
  }

  /**
   * The subnamespace of a jurisdiction ("eu", "fedramp", "fedramp-high", "us"): its ids encode
   * the jurisdiction, and its methods refuse ids of another. Stead runs every jurisdiction's
   * objects where it runs; the ids keep them apart. `null` or `undefined`: the namespace itself.
   *
   * @example
   * const stub = env.ROOM.jurisdiction("eu").getByName("lobby");
   */
  jurisdiction(jurisdiction: string | null | undefined): DurableObjectNamespace<T> {
    const ids = this.#ids.withJurisdiction(jurisdiction);
    return ids === this.#ids ? this : new DurableObjectNamespace<T>(this.#route, ids);
  }
}

import { AsyncLocalStorage } from "node:async_hooks";
import type { WebSocket } from "../websocket/web-socket.ts";
import type { WorkerScope } from "../worker-scope.ts";
import type { InputGate } from "./input-gate.ts";
import type { OutputGate } from "./output-gate.ts";

/** What code running inside an object's event can reach of its object. */
export interface ObjectContext {
  readonly inputGate: InputGate;
  readonly outputGate: OutputGate;
  /**
   * Runs `fn` as a new event of this object, through its gates: calls on functions and
   * RpcTargets the object handed out come back in this way. Rejects once the instance is gone.
   */
  readonly deliver: (fn: () => unknown) => Promise<unknown>;
  /**
   * Call when a WebSocket is `accept()`ed (standard API) in this object: the object stays in
   * memory, and a reset closes the socket, until the returned function is called.
   */
  readonly adoptWebSocket?: (socket: WebSocket) => () => void;
  /** What `cloudflare:workers`' `env`, `exports` and `waitUntil` mean inside this object. */
  readonly scope?: WorkerScope;
  /** Which object this is, for logs: its class, id and name (when made from one). */
  readonly object?: { readonly className: string; readonly id: string; readonly name?: string };
  /** How many `blockConcurrencyWhile` callbacks enclose this code (0 or absent: none). */
  readonly blockDepth?: number;
}

const storage = new AsyncLocalStorage<ObjectContext>();

/** Call this to run an object's event handler, so I/O it starts knows whose gates to respect. */
export function runInObject<T>(context: ObjectContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** Call this to run code that must not be attributed to the current object (runtime internals). */
export function runOutsideObject<T>(fn: () => T): T {
  return storage.exit(fn);
}

/** The object whose event is running, or undefined in a Worker or in runtime code. */
export function currentObject(): ObjectContext | undefined {
  return storage.getStore();
}

/**
 * Call this to send an event to an object on behalf of the current code: an object calling out
 * waits for its own output gate first, and gets the result back only when its input gate is open.
 */
export function sendFromCurrent<T>(send: () => Promise<T>): Promise<T> {
  const caller = storage.getStore();
  const held = caller?.outputGate.wait();
  const sent = held ? held.then(send) : send();
  return caller === undefined ? sent : throughInputGate(caller, sent);
}

/**
 * Call this for I/O of the current code that is not an output (a read from a KV namespace or the
 * assets): it starts at once, even while the object's writes are not yet durable, and its result
 * comes back to an object only when its input gate is open.
 */
export function readFromCurrent<T>(read: () => Promise<T>): Promise<T> {
  const caller = storage.getStore();
  const sent = read();
  return caller === undefined ? sent : throughInputGate(caller, sent);
}

/** Settles as `sent` does, but only once `caller`'s input gate is open (results come back between events). */
function throughInputGate<T>(
  caller: NonNullable<ReturnType<typeof storage.getStore>>,
  sent: Promise<T>,
): Promise<T> {
  const reenter = <R>(settle: () => R) => {
    const wait = caller.inputGate.waitForOpen();
    return wait ? wait.then(settle) : settle();
  };
  return sent.then(
    (value) => reenter(() => value),
    (error: unknown) =>
      reenter(() => {
        throw error;
      }),
  );
}

const requests = new AsyncLocalStorage<string>();

/**
 * Call this to run the Worker's handler for one incoming request, so what its code logs can
 * name the request (`currentRequestId`).
 */
export function runInRequest<T>(requestId: string, fn: () => T): T {
  return requests.run(requestId, fn);
}

/**
 * The id of the incoming request whose Worker code is running, or undefined. Inside an object
 * it may name whichever request first woke the object's queue, so callers attribute an object's
 * work to the object instead.
 */
export function currentRequestId(): string | undefined {
  return requests.getStore();
}

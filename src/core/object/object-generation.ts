import { errorMessage } from "../error-text.ts";
import { resetError, SteadError } from "../errors.ts";
import { ChangeCapture } from "../feed/change-capture.ts";
import {
  currentObject,
  type ObjectContext,
  runInObject,
  runOutsideObject,
} from "../gates/context.ts";
import { InputGate } from "../gates/input-gate.ts";
import { OutputGate } from "../gates/output-gate.ts";
import type { DurableObjectId } from "../ids/object-id.ts";
import { DurableObjectStorage, storageInternals } from "../storage/durable-object-storage.ts";
import type { ObjectDatabase } from "../storage/object-database.ts";
import { Transactions } from "../storage/transactions.ts";
import type { HibernatableWebSockets } from "../websocket/hibernatable-web-sockets.ts";
import type { WebSocket } from "../websocket/web-socket.ts";
import type { ObjectClass, ObjectEvent } from "./object-class.ts";
import { DurableObjectState } from "./object-state.ts";

/** An event waiting for the object, with the caller's promise to settle. */
export interface QueuedEvent {
  readonly event: ObjectEvent;
  readonly enqueuedAt: number;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** An event being handled; `settled` once its caller has the answer. */
export interface StartedEvent {
  readonly item: QueuedEvent;
  settled: boolean;
  /** Once answered, the instance is discarded: its storage was replaced under it (an import). */
  restart?: boolean;
}

/** One instance of the user's class and everything that lives and dies with it. */
export interface Generation {
  readonly instance: any;
  readonly state: DurableObjectState;
  readonly storage: DurableObjectStorage;
  readonly tx: Transactions;
  /** Records its commits for a change feed, when the class has one. */
  readonly capture: ChangeCapture | undefined;
  readonly context: ObjectContext;
  broken: Error | undefined;
  /** Events started and not yet answered; a reset fails them at once instead of when they end. */
  readonly started: Set<StartedEvent>;
  /** Standard-API WebSockets accepted by this instance: they pin it in memory while open. */
  readonly standardSockets: Set<WebSocket>;
}

/** What a generation needs from the host of its object. */
export interface GenerationHost {
  readonly objectClass: ObjectClass;
  readonly id: DurableObjectId;
  readonly db: ObjectDatabase;
  readonly sockets: HibernatableWebSockets;
  /** True while `generation` is the host's live one (not reset, evicted or hibernated). */
  isCurrent(generation: Generation): boolean;
  /** Queues an event for the object (a call through an RPC stub the object handed out). */
  deliver(event: ObjectEvent): Promise<unknown>;
  /** The input gate opened: deliver the next queued event. */
  schedulePump(): void;
  /** Discards `generation`, failing its in-flight and held outputs with `error`. */
  reset(generation: Generation, error: Error): void;
  /** Keeps the object in memory until `promise` settles (`ctx.waitUntil`). */
  waitUntil(promise: Promise<unknown>): void;
  /** A standard WebSocket was adopted: it pins the object in memory while open. */
  cancelIdle(): void;
  /** A standard WebSocket was released: the object may be idle now. */
  maybeIdle(): void;
}

/**
 * Makes a new instance of the object's class: its gates, its transaction owner, its storage
 * and `ctx`, then runs the constructor inside the object's context. Throws what the constructor
 * throws. `onCreated` sees the generation before the constructor runs (the constructor may
 * already call back into it, through `blockConcurrencyWhile` or storage).
 */
export function createGeneration(
  host: GenerationHost,
  onCreated: (generation: Generation) => void,
): Generation {
  const cls = host.objectClass;
  // A restore asked for by `onNextSessionRestoreBookmark` happens now, before the constructor.
  if (cls.backend === "sqlite") host.db.handle.history?.applyPendingRestore?.();
  const outputGate = new OutputGate();
  const inputGate = new InputGate(() => host.schedulePump());
  let generation!: Generation;
  const context: ObjectContext = {
    inputGate,
    outputGate,
    object: {
      className: cls.ctor.name || cls.namespace,
      id: host.id.toString(),
      ...(host.id.name === undefined ? {} : { name: host.id.name }),
    },
    scope: {
      env: cls.env,
      exports: cls.exports,
      waitUntil: (promise) => host.waitUntil(promise),
    },
    deliver: (fn) =>
      host.isCurrent(generation)
        ? runOutsideObject(() => host.deliver({ kind: "run", fn }))
        : Promise.reject(
            new SteadError(
              "STUB_BROKEN",
              "This RPC stub points into a Durable Object instance that was reset or evicted. Get a new stub from the object.",
              { remote: true },
            ),
          ),
    adoptWebSocket: (socket) => {
      generation.standardSockets.add(socket);
      host.cancelIdle();
      return () => {
        generation.standardSockets.delete(socket);
        host.maybeIdle();
      };
    },
  };
  const capture =
    cls.feed === undefined
      ? undefined
      : new ChangeCapture(
          host.db,
          cls.feed,
          { namespace: cls.namespace, id: host.id.toString(), name: host.id.name },
          () => cls.clock.now(),
        );
  const tx = new Transactions(
    host.db,
    outputGate,
    capture === undefined
      ? { beforeCommit: () => storageInternals(storage).beforeCommit() }
      : {
          afterBegin: () => capture.begin(),
          beforeSqlWrite: () => capture.beforeSqlWrite(),
          kvWritten: (key, value) => capture.kvWritten(key, value),
          savepointOpened: (depth) => capture.savepointOpened(depth),
          savepointRolledBack: (depth) => capture.savepointRolledBack(depth),
          beforeCommit: () => {
            const afterStorage = storageInternals(storage).beforeCommit();
            // Last, so the changeset holds every write of the transaction.
            const afterCapture = capture.beforeCommit();
            if (afterStorage === undefined) return afterCapture;
            if (afterCapture === undefined) return afterStorage;
            return () => {
              afterStorage();
              afterCapture();
            };
          },
        },
    (error) => host.reset(generation, error),
    cls.counters.commitSeconds,
  );
  const blockConcurrencyWhile = <T>(fn: () => Promise<T>) => blockConcurrency(host, generation, fn);
  const storage: DurableObjectStorage = new DurableObjectStorage(host.db, tx, {
    namespace: cls.namespace,
    id: host.id.toString(),
    name: host.id.name,
    backend: cls.backend,
    hasAlarmHandler: typeof cls.ctor.prototype?.alarm === "function",
    deleteAllDeletesAlarm: cls.deleteAllDeletesAlarm,
    alarmIndex: cls.driver.alarms,
    alarmIndexChanged: () => cls.alarmIndexChanged(),
    blockConcurrencyWhile,
  });
  const state = new DurableObjectState(
    host.id,
    storage,
    cls.exports,
    {
      blockConcurrencyWhile,
      waitUntil: (promise) => host.waitUntil(promise),
      abort: (reason) => {
        const error = resetError(reason ?? "Durable Object was aborted by ctx.abort().");
        host.reset(generation, error);
        throw error;
      },
    },
    host.sockets,
  );
  generation = {
    instance: undefined,
    state,
    storage,
    tx,
    capture,
    context,
    broken: undefined,
    started: new Set(),
    standardSockets: new Set(),
  };
  onCreated(generation);
  const instance = runInObject(context, () => new cls.ctor(state, cls.env));
  (generation as { instance: unknown }).instance = instance;
  return generation;
}

/** workerd's bound on nested `blockConcurrencyWhile` calls (io-context.h). */
const MAX_BLOCK_DEPTH = 64;

/** `ctx.blockConcurrencyWhile(fn)`: holds the input gate for `fn`'s whole run, with a deadline. */
function blockConcurrency<T>(
  host: GenerationHost,
  generation: Generation,
  fn: () => Promise<T>,
): Promise<T> {
  const depth = (currentObject()?.blockDepth ?? 0) + 1;
  if (depth > MAX_BLOCK_DEPTH) {
    throw new Error("blockConcurrencyWhile() calls are nested too deeply.");
  }
  const release = generation.context.inputGate.lock();
  const cls = host.objectClass;
  const timer = cls.clock.setTimer(() => {
    host.reset(
      generation,
      resetError(
        "A call to blockConcurrencyWhile() in a Durable Object waited for too long. The call was canceled and the Durable Object was reset.",
      ),
    );
  }, cls.limits.blockConcurrencyTimeoutMs);
  // I/O that the callback itself starts must not wait for the gate it holds: give it its own.
  const inner: ObjectContext = {
    ...generation.context,
    inputGate: new InputGate(() => {}),
    blockDepth: depth,
  };
  const run = (async () => {
    try {
      return await runInObject(inner, fn);
    } catch (error) {
      host.reset(
        generation,
        resetError(
          `blockConcurrencyWhile() callback threw, so the Durable Object was reset: ${errorMessage(error)}`,
          error,
        ),
      );
      throw error;
    } finally {
      cls.clock.clearTimer(timer);
      release();
    }
  })();
  // Constructors often do not await it; its failure resets the object either way.
  run.catch(() => {});
  return run;
}

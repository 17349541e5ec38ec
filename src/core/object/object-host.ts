import { runAlarm } from "../alarms/run-alarm.ts";
import type { TimerHandle } from "../clock.ts";
import { overloadedError, resetError, SteadError } from "../errors.ts";
import { replayRecordedChanges } from "../feed/change-capture.ts";
import { runInObject } from "../gates/context.ts";
import type { DurableObjectId } from "../ids/object-id.ts";
import type { ObjectGauges } from "../metrics/object-counters.ts";
import { cloneForRpc } from "../rpc/serialize.ts";
import { callMember, references } from "../rpc/stub.ts";
import { ObjectDatabase } from "../storage/object-database.ts";
import { HibernatableWebSockets } from "../websocket/hibernatable-web-sockets.ts";
import { CLOSE_CODES } from "../websocket/limits.ts";
import { webSocketInternals } from "../websocket/web-socket.ts";
import { copyDatabase, type FeedReplay, runAdmin } from "./object-admin.ts";
import type { ObjectClass, ObjectEvent } from "./object-class.ts";
import {
  createGeneration,
  type Generation,
  type GenerationHost,
  type QueuedEvent,
  type StartedEvent,
} from "./object-generation.ts";

type Outcome = { value: unknown } | { error: unknown };

/**
 * Hosts one object id: delivers its events one at a time through the gates, constructs the
 * instance lazily, evicts it when idle and resets it on failure. At most one host exists per id
 * (the namespace guarantees it), so at most one instance lives.
 *
 * New events start only from a fresh macrotask (`setImmediate`), never from inside another
 * event's microtasks; with storage calls completing synchronously, that is what keeps a
 * `get`-then-`put` sequence free of interleaving without locking the input gate per call.
 */
export class ObjectHost {
  readonly id: DurableObjectId;
  readonly #class: ObjectClass;
  readonly #db: ObjectDatabase;
  #generation: Generation | undefined;
  #constructing = false;
  /** The driver is making the database ready for a new instance (`#prepare`). */
  #preparing = false;
  /** The database was made ready for the next instance. */
  #prepared = false;
  readonly #queue: QueuedEvent[] = [];
  #running = 0;
  #keepAlive = 0;
  #pumpScheduled = false;
  #idleTimer: TimerHandle | undefined;
  #evicted = false;
  /** When the last event other than an operator's started (clock ms), while the host lives. */
  #lastActivity: number | undefined;
  /** Hibernatable WebSockets belong to the host, so they outlive instances (hibernation). */
  readonly #sockets: HibernatableWebSockets;
  /** What each new generation of the object reaches the host through. */
  readonly #generationHost: GenerationHost;

  constructor(objectClass: ObjectClass, id: DurableObjectId) {
    this.#class = objectClass;
    this.id = id;
    this.#sockets = new HibernatableWebSockets({
      clock: objectClass.clock,
      deliver: (event) =>
        this.#evicted
          ? Promise.reject(new SteadError("RUNTIME_DISPOSED", "The object left memory."))
          : this.deliver(event),
      changed: () => {
        this.#cancelIdle();
        this.#maybeIdle();
      },
      reportError: (error, kind) =>
        objectClass.reportError(error, `${kind}() of ${objectClass.ctor.name} ${id.toString()}`),
    });
    this.#db = new ObjectDatabase(
      objectClass.driver,
      objectClass.namespace,
      id.toString(),
      id.name,
      objectClass.limits.maxDatabaseBytes,
    );
    this.#generationHost = {
      objectClass,
      id,
      db: this.#db,
      sockets: this.#sockets,
      isCurrent: (generation) => this.#generation === generation && !this.#evicted,
      deliver: (event) => this.deliver(event),
      schedulePump: () => this.#schedulePump(),
      reset: (generation, error) => this.#reset(generation, error),
      waitUntil: (promise) => this.#waitUntil(promise),
      cancelIdle: () => this.#cancelIdle(),
      maybeIdle: () => this.#maybeIdle(),
    };
  }

  /** True once the host evicted its object; the namespace makes a new host for new events. */
  get evicted(): boolean {
    return this.#evicted;
  }

  /** Queues an event; settles with its result once the writes before the result are durable. */
  deliver(event: ObjectEvent): Promise<unknown> {
    if (this.#evicted) throw new Error("internal: event delivered to an evicted host");
    if (this.#queue.length >= this.#class.limits.maxQueuedEvents) {
      this.#class.counters.overloaded++;
      return Promise.reject(overloadedError("Too many requests queued."));
    }
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    this.#queue.push({ event, enqueuedAt: this.#class.clock.now(), resolve, reject });
    this.#cancelIdle();
    this.#schedulePump();
    return promise;
  }

  /** Leaves memory now if idle: evicted, or hibernated while it holds hibernatable sockets. */
  leaveMemoryIfIdle(): boolean {
    if (!this.#isIdle() || this.#generation === undefined) return false;
    if (this.#sockets.size === 0) {
      this.#evict();
      return true;
    }
    if (this.#generation.standardSockets.size > 0) return false;
    this.#cancelIdle();
    this.#hibernate();
    return true;
  }

  /** True while events are queued, running, or being prepared for. */
  get busy(): boolean {
    return this.#running > 0 || this.#queue.length > 0 || this.#preparing || this.#keepAlive > 0;
  }

  /** Adds what this object holds now to `gauges` (metrics). */
  addGauges(gauges: ObjectGauges): void {
    if (this.#evicted) return;
    const generation = this.#generation;
    if (generation !== undefined) {
      gauges.active++;
      gauges.standardWebSockets += generation.standardSockets.size;
    } else if (this.#sockets.size > 0) {
      gauges.hibernated++;
    }
    gauges.hibernatableWebSockets += this.#sockets.size;
    gauges.queued += this.#queue.length;
    if (this.#queue.length > gauges.longestQueue) gauges.longestQueue = this.#queue.length;
  }

  /**
   * Discards the live instance, if any: its in-flight and held outputs fail with `error`, and
   * the next event prepares the database again (a cluster node that lost its lease).
   */
  reset(error: Error): void {
    if (this.#generation !== undefined) this.#reset(this.#generation, error);
  }

  /** Closes the object's database (runtime shutdown). */
  close(): void {
    this.#cancelIdle();
    this.#evicted = true;
    this.#closeSockets(this.#generation, CLOSE_CODES.serviceRestart, "Stead runtime shut down");
    this.#generation?.tx.commitBeforeClose();
    this.#generation = undefined;
    this.#db.close();
    this.#class.residency.left(this);
    const disposed = new SteadError(
      "RUNTIME_DISPOSED",
      "The runtime was disposed before this event ran; create a new runtime.",
    );
    for (const item of this.#queue.splice(0)) item.reject(disposed);
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(this.#pump);
  }

  readonly #pump = (): void => {
    this.#pumpScheduled = false;
    const item = this.#queue[0];
    if (item === undefined || !this.#gateOpen()) return;
    if (this.#generation === undefined && !this.#prepared && this.#prepare()) return;
    this.#queue.shift();
    const waited = this.#class.clock.now() - item.enqueuedAt;
    if (waited > this.#class.limits.maxQueueAgeMs) {
      this.#class.counters.overloaded++;
      item.reject(overloadedError("Requests queued for too long."));
    } else {
      this.#start(item);
    }
    if (this.#queue.length > 0) this.#schedulePump();
    else this.#maybeIdle();
  };

  #gateOpen(): boolean {
    return (
      !this.#constructing &&
      !this.#preparing &&
      (this.#generation?.context.inputGate.isOpen ?? true)
    );
  }

  /**
   * Before a new instance: lets the driver make the database ready (`prepareObject`), holding
   * the queue meanwhile. Returns false when the driver needs no preparing. A failure fails the
   * event at the head of the queue; the next one tries again.
   */
  #prepare(): boolean {
    const preparing = this.#db.prepare();
    if (preparing === undefined) return false;
    this.#preparing = true;
    preparing.then(
      () => {
        this.#preparing = false;
        this.#prepared = true;
        this.#schedulePump();
      },
      (error: unknown) => {
        this.#preparing = false;
        this.#queue.shift()?.reject(error);
        this.#schedulePump();
        this.#maybeIdle();
      },
    );
    return true;
  }

  #start(item: QueuedEvent): void {
    const { event } = item;
    if (this.#generation === undefined && event.kind === "admin" && event.request.op === "feed") {
      // As for a snapshot: an object at rest has nothing uncommitted, and no app code need run.
      try {
        item.resolve(this.#replayFeed(undefined));
      } catch (error) {
        item.reject(error);
      }
      if (this.#isIdle() && this.#sockets.size === 0) this.#evict();
      return;
    }
    if (
      this.#generation === undefined &&
      event.kind === "admin" &&
      event.request.op === "snapshot"
    ) {
      // Not in memory: nothing is uncommitted, so the database as it stands is at a commit
      // boundary. It is copied without an instance (no app code runs for a backup of an object
      // at rest), and the object leaves memory again at once unless events wait for it.
      try {
        item.resolve(copyDatabase(this.id.toString(), this.#db));
      } catch (error) {
        item.reject(error);
      }
      if (this.#isIdle() && this.#sockets.size === 0) this.#evict();
      return;
    }
    let generation: Generation;
    try {
      generation = this.#ensureInstance();
    } catch (error) {
      item.reject(error);
      return;
    }
    if (!generation.context.inputGate.isOpen) {
      // The constructor called blockConcurrencyWhile: the event waits for it.
      this.#queue.unshift(item);
      return;
    }
    this.#running++;
    if (item.event.kind !== "admin") this.#lastActivity = this.#class.clock.now();
    this.#class.residency.active(this);
    const started: StartedEvent = { item, settled: false };
    generation.started.add(started);
    let result: unknown;
    try {
      result = runInObject(generation.context, () =>
        this.#dispatch(generation, item.event, started),
      );
    } catch (error) {
      this.#finish(generation, started, { error });
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (value) => this.#finish(generation, started, { value }),
        (error: unknown) => this.#finish(generation, started, { error }),
      );
    } else {
      this.#finish(generation, started, { value: result });
    }
  }

  /** The `feed` admin request: the recorded changes to the class's feed again. */
  #replayFeed(generation: Generation | undefined): FeedReplay {
    const id = this.id.toString();
    const feed = this.#class.feed;
    if (feed === undefined) return { id, changes: 0 };
    const changes =
      generation?.capture !== undefined
        ? generation.capture.replay()
        : replayRecordedChanges(this.#db, feed, {
            namespace: this.#class.namespace,
            id,
            name: this.id.name,
          });
    return { id, changes };
  }

  #dispatch(generation: Generation, event: ObjectEvent, started: StartedEvent): unknown {
    const instance = generation.instance;
    switch (event.kind) {
      case "rpc": {
        const result = callMember(instance, event.member, event.args);
        // Clone as soon as the value exists, so later mutations by the object cannot leak.
        return result instanceof Promise
          ? result.then((value) => cloneForRpc(value, references))
          : cloneForRpc(result, references);
      }
      case "fetch": {
        if (typeof instance.fetch !== "function") {
          throw new SteadError(
            "HANDLER_MISSING",
            `The Durable Object class "${this.#class.ctor.name}" has no fetch() handler, so stub.fetch() cannot reach it. Define fetch(request) on the class, or call its methods over RPC.`,
          );
        }
        return instance.fetch(event.request);
      }
      case "alarm":
        return runAlarm(generation.instance, generation.storage, event.record, {
          now: this.#class.clock.now(),
          force: event.force === true,
          broken: () => generation.broken,
        });
      case "run":
        return event.fn(instance, generation.state);
      case "admin":
        return runAdmin(event.request, {
          id: this.id.toString(),
          backend: this.#class.backend,
          storage: generation.storage,
          db: this.#db,
          lastActivity: this.#lastActivity,
          hibernatableSockets: this.#sockets.size,
          standardSockets: generation.standardSockets.size,
          commit: () => generation.tx.commitImplicit(),
          restart: () => {
            started.restart = true;
          },
          replayFeed: () => this.#replayFeed(generation),
          write: (fn) => {
            generation.tx.beforeSqlWrite();
            return generation.tx.savepoint(() => {
              try {
                return fn();
              } catch (error) {
                // SQLite rolled the whole transaction back by itself (the size limit): the
                // generation breaks, as it does for the app's own statements.
                throw generation.tx.failedCritically(error) ?? error;
              }
            });
          },
        });
      case "webSocketMessage":
        return instance.webSocketMessage?.(event.socket, event.message);
      case "webSocketClose":
        return instance.webSocketClose?.(event.socket, event.code, event.reason, event.wasClean);
      case "webSocketError":
        return instance.webSocketError?.(event.socket, event.error);
    }
  }

  /** The handler ended: answer once the writes before its result are durable. */
  #finish(generation: Generation, started: StartedEvent, outcome: Outcome): void {
    if (started.settled) return;
    const held = generation.context.outputGate.wait();
    if (held === undefined) this.#settle(generation, started, outcome);
    else {
      held.then(
        () => this.#settle(generation, started, outcome),
        (error: unknown) => this.#settle(generation, started, { error }),
      );
    }
  }

  /** Answers a started event, once; a reset generation answers with its reset error. */
  #settle(generation: Generation, started: StartedEvent, outcome: Outcome): void {
    if (started.settled) return;
    started.settled = true;
    generation.started.delete(started);
    this.#running--;
    const { item } = started;
    if (generation.broken !== undefined) item.reject(generation.broken);
    else if ("error" in outcome) item.reject(outcome.error);
    else item.resolve(outcome.value);
    if (started.restart === true && !("error" in outcome) && this.#generation === generation) {
      // The instance may hold what it read from the storage just replaced: the next event
      // constructs a new one over the new contents.
      this.#reset(
        generation,
        resetError(
          "The object's storage was replaced by an import (stead objects import), so its instance restarted.",
        ),
      );
    }
    this.#maybeIdle();
  }

  #ensureInstance(): Generation {
    if (this.#generation) return this.#generation;
    // The preparing was for this instance; the next one prepares again.
    this.#prepared = false;
    this.#constructing = true;
    try {
      const generation = createGeneration(this.#generationHost, (created) => {
        this.#generation = created;
      });
      this.#class.counters.activations++;
      return generation;
    } catch (error) {
      this.#generation = undefined;
      throw error;
    } finally {
      this.#constructing = false;
    }
  }

  #waitUntil(promise: Promise<unknown>): void {
    this.#keepAlive++;
    this.#cancelIdle();
    const done = () => {
      this.#keepAlive--;
      this.#maybeIdle();
    };
    Promise.resolve(promise).then(done, done);
  }

  /** Discards the instance; its in-flight and held outputs fail with `error`. Data is untouched. */
  #reset(generation: Generation, error: Error): void {
    if (generation.broken !== undefined) return;
    generation.broken = error;
    for (const started of generation.started) this.#settle(generation, started, { error });
    generation.tx.break(error);
    if (this.#generation === generation) {
      this.#closeSockets(generation, CLOSE_CODES.internalError, "Durable Object reset");
      this.#generation = undefined;
      this.#db.reopen();
    }
    this.#schedulePump();
  }

  #isIdle(): boolean {
    return (
      !this.#evicted &&
      this.#running === 0 &&
      this.#keepAlive === 0 &&
      this.#queue.length === 0 &&
      (this.#generation === undefined ||
        (this.#generation.context.inputGate.isOpen &&
          this.#generation.context.outputGate.wait() === undefined))
    );
  }

  /**
   * Arms the idle timer once nothing runs: eviction, or hibernation while hibernatable
   * WebSockets are open. Standard-API WebSockets keep the object in memory; a hibernated object
   * waits for its next event (the sockets keep the host).
   */
  #maybeIdle(): void {
    if (!this.#isIdle() || this.#idleTimer !== undefined) return;
    const generation = this.#generation;
    if (generation !== undefined && generation.standardSockets.size > 0) return;
    const hibernatable = this.#sockets.size > 0;
    if (hibernatable && generation === undefined) return;
    const limits = this.#class.limits;
    this.#idleTimer = this.#class.clock.setTimer(
      () => {
        this.#idleTimer = undefined;
        if (!this.#isIdle()) return;
        if (this.#sockets.size > 0) this.#hibernate();
        else this.#evict();
      },
      hibernatable ? limits.hibernateAfterMs : limits.idleTimeoutMs,
    );
  }

  /** Drops the instance; its hibernatable sockets stay open and the next event constructs anew. */
  #hibernate(): void {
    if (this.#generation === undefined || this.#generation.standardSockets.size > 0) return;
    this.#generation.tx.commitBeforeClose();
    this.#generation = undefined;
    this.#db.close();
    this.#class.residency.left(this);
    this.#class.counters.hibernations++;
  }

  /** Ends the object's WebSockets with a close frame: its standard ones and hibernatable ones. */
  #closeSockets(generation: Generation | undefined, code: number, reason: string): void {
    for (const socket of generation?.standardSockets ?? []) {
      webSocketInternals(socket)?.closeByRuntime(code, reason);
    }
    generation?.standardSockets.clear();
    this.#sockets.closeAll(code, reason);
  }

  #cancelIdle(): void {
    if (this.#idleTimer === undefined) return;
    this.#class.clock.clearTimer(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  #evict(): void {
    this.#cancelIdle();
    this.#evicted = true;
    // A host whose instance already left (hibernated, then its last socket closed) evicts none.
    if (this.#generation !== undefined) this.#class.counters.evictions++;
    this.#generation?.tx.commitBeforeClose();
    this.#generation = undefined;
    this.#db.close();
    this.#class.residency.left(this);
    this.#class.evicted(this);
  }
}

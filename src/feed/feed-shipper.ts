import type { ChangeFeed, RecordedChanges } from "../core/feed/change-feed.ts";
import { HistogramCounts, LATENCY_BUCKETS } from "../core/metrics/histogram-counts.ts";
import { decodeCommit, type FeedCommit } from "./feed-changes.ts";
import type { ApplyFailure, BatchOutcome, FeedSink, ObjectBatch } from "./feed-sink.ts";
import { type ObjectQueue, type SinkState, sinkStatus } from "./feed-sink-state.ts";
import type { FeedStatus } from "./feed-status.ts";

/** Objects in one `FeedSink.apply` call. */
const OBJECTS_PER_APPLY = 256;
/**
 * An apply call starts at most this long after the previous one began, unless it is full
 * (`OBJECTS_PER_APPLY` objects): under load, fewer and larger calls (a round trip, a sink
 * transaction and its fixed statements serve many commits) for at most this much lag. A sink
 * idle for longer ships at once. Measured: starting the next call as soon as one ended gave calls
 * of a few commits on object threads (each ships only its own objects) and doubled the feed's
 * CPU per commit.
 */
const LINGER_MS = 20;
/** Commits of one object in one apply call. */
const COMMITS_PER_OBJECT = 200;
/** Apply calls in flight per sink. */
const APPLIES_IN_FLIGHT = 4;
/**
 * Commits of one object kept in memory for a sink; past it, newer ones are left in the object's
 * `_cf_changes` and read again (`replay`) once the sink caught up (a sink down for long).
 */
const MAX_QUEUED_PER_OBJECT = 2_000;
/** Retry delays after a failed apply: doubling from the first to the last. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5_000;

/** What the shipper needs from the runtime it ships for. */
export interface ShipperHost {
  /** The exported class name of a storage namespace (undefined: not a feed class). */
  className(namespace: string): string | undefined;
  /**
   * Asks the object to hand its recorded changes to the feed again (the `feed` admin event):
   * after changes were left out of memory, or at start.
   */
  replay(namespace: string, id: string, name: string | undefined): Promise<void>;
  /** Reports a failure operators must see (a log line). */
  onError(error: Error, context: string): void;
  now(): number;
}

/**
 * The node's change feed: takes objects' durable commits (`ChangeFeed`) and applies them to
 * every sink, per object in order, across objects in parallel. A sink keeps a durable cursor per
 * object, so what it applied is never applied twice; a sink that fails (down, or rejecting one
 * object's change) is retried with backoff, for that object only, and the rest goes on. Nothing
 * is dropped: changes not yet applied everywhere stay in the object's `_cf_changes`.
 */
export class FeedShipper implements ChangeFeed {
  readonly #host: ShipperHost;
  readonly #sinks: SinkState[];
  readonly #decoded = new WeakMap<RecordedChanges, FeedCommit>();
  #closed = false;
  readonly #idle = new Set<() => void>();

  constructor(sinks: readonly FeedSink[], host: ShipperHost) {
    this.#host = host;
    this.#sinks = sinks.map((sink) => ({
      sink,
      objects: new Map(),
      ready: new Set(),
      applies: 0,
      linger: undefined,
      lastStart: Number.NEGATIVE_INFINITY,
      appliedCommits: 0,
      lag: new HistogramCounts(LATENCY_BUCKETS),
      lastError: undefined,
    }));
  }

  committed(
    namespace: string,
    id: string,
    name: string | undefined,
    changes: RecordedChanges[],
  ): void {
    if (this.#closed) return;
    const className = this.#host.className(namespace);
    if (className === undefined) return;
    for (const state of this.#sinks) {
      const object = this.#object(state, namespace, className, id, name);
      let added = false;
      for (const change of changes) {
        const last = object.pending.at(-1)?.seq ?? object.applied;
        if (change.seq <= last) {
          // Given again (a replay): keep it only if it fills a hole before what is queued.
          if (change.seq > object.applied && !object.pending.some((c) => c.seq === change.seq)) {
            object.pending.push(change);
            object.pending.sort((a, b) => a.seq - b.seq);
            added = true;
          }
          continue;
        }
        if (object.pending.length >= MAX_QUEUED_PER_OBJECT) {
          object.gap = true;
          continue;
        }
        object.pending.push(change);
        added = true;
      }
      if (added && !object.inFlight && object.retryTimer === undefined) state.ready.add(object);
      this.#pump(state);
    }
  }

  shipped(namespace: string, id: string): number {
    let shipped = Number.POSITIVE_INFINITY;
    for (const state of this.#sinks) {
      shipped = Math.min(shipped, state.objects.get(keyOf(namespace, id))?.applied ?? 0);
    }
    return Number.isFinite(shipped) ? shipped : 0;
  }

  /** What each sink has applied, what waits, and the errors of failing objects. */
  status(): FeedStatus {
    const now = this.#host.now();
    return { sinks: this.#sinks.map((state) => sinkStatus(state, now)) };
  }

  /** Resolves once nothing waits to be applied to any sink (tests, benchmarks, shutdown). */
  drained(): Promise<void> {
    if (this.#isDrained()) return Promise.resolve();
    return new Promise((resolve) => this.#idle.add(resolve));
  }

  /** Stops shipping and closes the sinks; what was not applied is shipped after the next start. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const state of this.#sinks) {
      clearTimeout(state.linger);
      for (const object of state.objects.values()) clearTimeout(object.retryTimer);
    }
    await Promise.allSettled(this.#sinks.map((state) => state.sink.close()));
  }

  #object(
    state: SinkState,
    namespace: string,
    className: string,
    id: string,
    name: string | undefined,
  ): ObjectQueue {
    const key = keyOf(namespace, id);
    let object = state.objects.get(key);
    if (object === undefined) {
      object = {
        key,
        namespace,
        className,
        id,
        name,
        pending: [],
        applied: 0,
        gap: false,
        holeReplayed: false,
        inFlight: false,
        attempts: 0,
        retryTimer: undefined,
        error: undefined,
      };
      state.objects.set(key, object);
    }
    if (name !== undefined) object.name = name;
    return object;
  }

  /** Starts apply calls while the sink takes more; `now`: one even if few objects are ready. */
  #pump(state: SinkState, now = false): void {
    while (!this.#closed && state.applies < APPLIES_IN_FLIGHT && state.ready.size > 0) {
      if (!now && state.ready.size < OBJECTS_PER_APPLY) {
        // Real time, not the host's clock (a test's may stand still): it paces a timer.
        const wait = state.lastStart + LINGER_MS - performance.now();
        if (wait > 0) {
          this.#linger(state, wait);
          break;
        }
      }
      now = false;
      clearTimeout(state.linger);
      state.linger = undefined;
      state.lastStart = performance.now();
      const objects: ObjectQueue[] = [];
      for (const object of state.ready) {
        state.ready.delete(object);
        if (object.pending.length === 0) continue;
        objects.push(object);
        if (objects.length === OBJECTS_PER_APPLY) break;
      }
      if (objects.length === 0) break;
      const batches = objects.map((object): ObjectBatch => {
        object.inFlight = true;
        return {
          className: object.className,
          id: object.id,
          name: object.name,
          commits: object.pending.slice(0, COMMITS_PER_OBJECT).map((c) => this.#decode(c)),
          contiguous: !object.holeReplayed,
        };
      });
      state.applies++;
      state.sink.apply(batches).then(
        (outcomes) => this.#settle(state, objects, batches, outcomes),
        (error: unknown) =>
          this.#settle(
            state,
            objects,
            batches,
            objects.map(() => ({
              failed: {
                message: error instanceof Error ? error.message : String(error),
                seq: undefined,
                table: undefined,
              },
            })),
          ),
      );
    }
    this.#checkIdle();
  }

  /** Ships what is ready in `wait` ms, unless a full call starts before. */
  #linger(state: SinkState, wait: number): void {
    state.linger ??= setTimeout(() => {
      state.linger = undefined;
      this.#pump(state, true);
    }, wait);
  }

  #settle(
    state: SinkState,
    objects: ObjectQueue[],
    batches: ObjectBatch[],
    outcomes: BatchOutcome[],
  ): void {
    state.applies--;
    const now = this.#host.now();
    objects.forEach((object, i) => {
      object.inFlight = false;
      const outcome = outcomes[i] ?? {
        failed: { message: "no outcome", seq: undefined, table: undefined },
      };
      const applied = "applied" in outcome ? outcome.applied : outcome.failed.applied;
      if (applied !== undefined) {
        for (const commit of batches[i]!.commits) {
          if (commit.seq <= applied && commit.seq > object.applied) {
            state.appliedCommits++;
            state.lag.observe(Math.max(0, now - commit.at) / 1000);
          }
        }
        object.applied = Math.max(object.applied, applied);
        object.pending = object.pending.filter((c) => c.seq > object.applied);
      }
      if ("applied" in outcome && outcome.gap === true && !object.holeReplayed) {
        // Older commits first: read the object's recorded changes again, then go on.
        object.attempts = 0;
        object.holeReplayed = true;
        this.#replayThen(state, object);
      } else if ("applied" in outcome) {
        if (outcome.gap !== true) object.holeReplayed = false;
        object.attempts = 0;
        object.error = undefined;
        if (object.pending.length > 0) state.ready.add(object);
        else if (object.gap) this.#refill(object);
      } else {
        this.#failed(state, object, outcome.failed, now);
      }
    });
    this.#pump(state);
  }

  #failed(state: SinkState, object: ObjectQueue, failure: ApplyFailure, now: number): void {
    const first = object.error === undefined || object.error.message !== failure.message;
    object.attempts++;
    object.error = {
      class: object.className,
      id: object.id,
      name: object.name,
      seq: failure.seq,
      table: failure.table,
      message: failure.message,
      since: first ? now : object.error!.since,
      attempts: object.attempts,
    };
    state.lastError = object.error;
    if (first) {
      const change = failure.seq === undefined ? "" : ` commit ${failure.seq}`;
      const table = failure.table === undefined ? "" : ` (table ${failure.table})`;
      this.#host.onError(
        new Error(
          `change feed to ${state.sink.name}: ${object.className} ${object.id}${change}${table} was not applied: ${failure.message}. It is retried with backoff; the object's later changes wait, other objects go on.`,
        ),
        "change feed",
      );
    }
    const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(16, object.attempts - 1));
    object.retryTimer = setTimeout(() => {
      object.retryTimer = undefined;
      state.ready.add(object);
      this.#pump(state);
    }, delay);
    object.retryTimer.unref();
  }

  /** Reads the object's recorded changes again (filling a hole), then lets it ship on. */
  #replayThen(state: SinkState, object: ObjectQueue): void {
    object.inFlight = true;
    this.#host
      .replay(object.namespace, object.id, object.name)
      .catch((error: unknown) =>
        this.#host.onError(
          error instanceof Error ? error : new Error(String(error)),
          `change feed: reading ${object.className} ${object.id}'s recorded changes`,
        ),
      )
      .finally(() => {
        object.inFlight = false;
        if (object.pending.length > 0) state.ready.add(object);
        this.#pump(state);
      });
  }

  /** Reads again the commits left out of memory, now that the sink caught up with the rest. */
  #refill(object: ObjectQueue): void {
    object.gap = false;
    this.#host.replay(object.namespace, object.id, object.name).catch((error: unknown) => {
      object.gap = true;
      this.#host.onError(
        error instanceof Error ? error : new Error(String(error)),
        `change feed: reading ${object.className} ${object.id}'s recorded changes`,
      );
    });
  }

  #decode(recorded: RecordedChanges): FeedCommit {
    let commit = this.#decoded.get(recorded);
    if (commit === undefined) {
      commit = decodeCommit(recorded);
      this.#decoded.set(recorded, commit);
    }
    return commit;
  }

  #isDrained(): boolean {
    return this.#sinks.every(
      (state) =>
        state.applies === 0 &&
        [...state.objects.values()].every((object) => object.pending.length === 0 && !object.gap),
    );
  }

  #checkIdle(): void {
    if (this.#idle.size === 0 || !this.#isDrained()) return;
    for (const resolve of this.#idle) resolve();
    this.#idle.clear();
  }
}

function keyOf(namespace: string, id: string): string {
  return `${namespace}/${id}`;
}

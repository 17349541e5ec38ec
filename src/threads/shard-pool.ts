import { Worker } from "node:worker_threads";
import type { ConsoleEntry } from "../core/console-capture.ts";
import { SteadError } from "../core/errors.ts";
import type { DurableObjectId } from "../core/ids/object-id.ts";
import type { ObjectEvent } from "../core/object/object-class.ts";
import type { HandleRef, Handles } from "./handles.ts";
import { answerCall, PendingCalls, transferablesOf } from "./remote-call.ts";
import {
  type FromShard,
  HEARTBEAT_MS,
  MAIN_THREAD,
  nowUs,
  type ShardData,
  shardOf,
  type WireCall,
  type WireResult,
} from "./shard-protocol.ts";
import { fromWireError, toWireError } from "./wire.ts";

/** Options of `ShardPool.start`. */
export interface ShardPoolOptions {
  /** Object threads to run (at least 1). */
  shards: number;
  /** The worker entry that runs one shard (`embedded/object-thread.ts`). */
  entry: URL;
  /** What every shard is started with. */
  data: Omit<ShardData, "shard" | "shards" | "heartbeat">;
  /**
   * An event that keeps its thread busy past this long, without returning to the event loop,
   * exceeds its CPU limit: the thread is stopped and started again, and its objects reset (ms).
   */
  cpuLimitMs: number;
  /** How long a stopped thread may take to end before it counts as stuck (ms). Default 2,000. */
  stopGraceMs?: number;
  /** The main thread's references: functions and RpcTargets it handed to shards, and theirs. */
  handles: Handles;
  /** An object changed the node's alarm index. */
  alarmIndexChanged(): void;
  /** An error nobody else sees. */
  onError(error: unknown, context: string): void;
  /** A line an object wrote through `console` (when the shards capture it). */
  onConsole?(entry: ConsoleEntry): void;
  /**
   * A thread could not be stopped: it is inside a call nothing can interrupt (a SQLite statement
   * that never ends). Its objects fail until the process restarts.
   */
  onStuck(error: SteadError): void;
}

/** One shard's current thread. */
interface Incarnation {
  readonly worker: Worker;
  readonly calls: PendingCalls;
  /** When the thread's event loop last turned, in µs of the shared wall clock (`nowUs`). */
  readonly heartbeat: BigInt64Array;
  /** Resolves when the thread took its app; rejects if it could not. */
  readonly ready: Promise<void>;
  /** Resolves once another thread took this one's place (or the pool closed). */
  readonly replaced: Promise<void>;
  replace(): void;
  state: "starting" | "ready" | "stopping" | "stuck" | "closed";
  disposed?: () => void;
  /** Metrics requests sent to the thread and not yet answered; answered undefined if it ends. */
  readonly metrics: Map<number, (families: unknown) => void>;
}

/**
 * Runs objects on worker threads, one shard of the id space per thread, so one object's runaway
 * event stops only its own thread: a watchdog on this thread sees the thread's heartbeat stop,
 * fails the calls in flight there with Cloudflare's CPU-limit error, and starts the shard again.
 * Calls between shards pass through here, as calls between nodes pass through their owners.
 */
export class ShardPool {
  readonly #options: ShardPoolOptions;
  readonly #shards: Incarnation[] = [];
  readonly #watchdog: NodeJS.Timeout;
  #closed = false;
  #metricsRequests = 0;

  private constructor(options: ShardPoolOptions) {
    this.#options = options;
    for (let shard = 0; shard < options.shards; shard++) this.#shards.push(this.#spawn(shard));
    const every = Math.max(HEARTBEAT_MS, Math.min(250, Math.floor(options.cpuLimitMs / 4)));
    this.#watchdog = setInterval(() => this.#watch(), every);
    this.#watchdog.unref();
  }

  /** Starts every shard; rejects (with every thread stopped) if one cannot load the app. */
  static async start(options: ShardPoolOptions): Promise<ShardPool> {
    const pool = new ShardPool(options);
    try {
      await Promise.all(pool.#shards.map((shard) => shard.ready));
    } catch (error) {
      await pool.dispose();
      throw error;
    }
    return pool;
  }

  /**
   * Delivers an event to object `id` of `namespace`, on the thread that owns it. `forwarded`:
   * another cluster node sent it here; it is not sent on.
   */
  async call(
    namespace: string,
    id: DurableObjectId,
    event: ObjectEvent,
    forwarded = false,
  ): Promise<unknown> {
    const shard = await this.#readyShard(shardOf(id.toString(), this.#options.shards));
    return shard.calls.send(shard.worker, namespace, id, event, forwarded);
  }

  /** Discards every live object on every shard, failing its outputs with `error`. */
  resetAll(error: Error): void {
    for (const shard of this.#shards) {
      if (shard.state === "ready")
        shard.worker.postMessage({ t: "reset", error: toWireError(error) });
    }
  }

  /**
   * Every serving thread's metrics (what `object-thread.ts` answers), in shard order. A thread
   * that is starting, stopped or ends before it answers is left out; a busy one is waited for.
   */
  async metrics(): Promise<unknown[]> {
    const request = ++this.#metricsRequests;
    const answers = await Promise.all(
      this.#shards.map((shard) => {
        if (shard.state !== "ready") return undefined;
        const { promise, resolve } = Promise.withResolvers<unknown>();
        shard.metrics.set(request, resolve);
        shard.worker.postMessage({ t: "metrics", request });
        return promise;
      }),
    );
    return answers.filter((answer) => answer !== undefined);
  }

  /** Calls a function or RpcTarget that a shard keeps (`member` undefined: the function). */
  async callHandle(
    ref: HandleRef,
    member: string | undefined,
    args: unknown[] | undefined,
  ): Promise<unknown> {
    const shard = await this.#readyShard(ref.thread);
    return shard.calls.sendHandle(shard.worker, ref, member, args);
  }

  /** No stub here needs what a shard keeps under `ref` any more. */
  release(ref: HandleRef): void {
    const shard = this.#shards[ref.thread];
    if (shard?.state === "ready") shard.worker.postMessage({ t: "release", handle: ref.handle });
  }

  /**
   * Flushes and closes every shard's objects, then stops the threads. The watchdog keeps
   * running meanwhile, so a shard that is blocked is stopped rather than waited for.
   */
  async dispose(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(
      this.#shards.map(async (shard) => {
        if (shard.state === "ready") {
          await new Promise<void>((resolve) => {
            shard.disposed = resolve;
            shard.worker.once("exit", () => resolve());
            shard.replaced.then(resolve);
            shard.worker.postMessage({ t: "dispose" });
          });
        }
        // A stopped thread ends, or turns out stuck; either way `replaced` resolves.
        if (shard.state === "stopping") await shard.replaced;
        if (shard.state === "stuck") return;
        shard.replace();
        shard.state = "closed";
        shard.calls.failAll(disposedError());
        await shard.worker.terminate();
      }),
    );
    clearInterval(this.#watchdog);
  }

  #spawn(shard: number): Incarnation {
    const heartbeat = new SharedArrayBuffer(8);
    const data: ShardData = {
      ...this.#options.data,
      shard,
      shards: this.#options.shards,
      heartbeat,
    };
    const worker = new Worker(this.#options.entry, { workerData: data });
    let started!: () => void;
    let failed!: (error: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      started = resolve;
      failed = reject;
    });
    ready.catch(() => {});
    let replace!: () => void;
    const replaced = new Promise<void>((resolve) => {
      replace = resolve;
    });
    const incarnation: Incarnation = {
      worker,
      calls: new PendingCalls(this.#options.handles),
      heartbeat: new BigInt64Array(heartbeat),
      ready,
      replaced,
      replace,
      state: "starting",
      metrics: new Map(),
    };
    worker.on("message", (message: FromShard) => {
      switch (message.t) {
        case "ready":
          incarnation.state = "ready";
          started();
          return;
        case "failed":
          incarnation.state = "closed";
          failed(fromWireError(message.error));
          return;
        case "result":
          incarnation.calls.settle(message);
          return;
        case "call":
          if (message.handle?.thread === MAIN_THREAD) {
            const { handles } = this.#options;
            const target = message.handle;
            answerCall(worker, message, (event) => handles.invoke(target, event), handles);
          } else this.#relay(incarnation, message);
          return;
        case "release":
          if (message.thread === MAIN_THREAD) this.#options.handles.release(message.handle);
          else this.release(message);
          return;
        case "alarmIndexChanged":
          this.#options.alarmIndexChanged();
          return;
        case "console":
          this.#options.onConsole?.(message.entry);
          return;
        case "error":
          this.#options.onError(fromWireError(message.error), message.context);
          return;
        case "disposed":
          incarnation.disposed?.();
          return;
        case "metrics":
          incarnation.metrics.get(message.request)?.(message.families);
          incarnation.metrics.delete(message.request);
      }
    });
    worker.on("error", (error) => {
      // An uncaught error ends the thread: its objects are reset, as after a crash.
      this.#options.onError(error, `object thread ${shard}`);
      failed(error as Error);
    });
    worker.on("exit", () => {
      const wasServing = incarnation.state === "ready";
      leaveOutMetrics(incarnation);
      incarnation.calls.failAll(
        new SteadError(
          "OBJECT_RESET",
          `The object thread running this Durable Object stopped unexpectedly and was restarted; the object was reset.`,
          { retryable: true, remote: true },
        ),
      );
      if (wasServing && !this.#closed) this.#replace(shard, incarnation);
    });
    return incarnation;
  }

  /** Starts shard `shard` again in place of `old`, unless that already happened. */
  #replace(shard: number, old: Incarnation): void {
    if (this.#shards[shard] !== old) return;
    old.state = "closed";
    this.#shards[shard] = this.#spawn(shard);
    old.replace();
  }

  async #readyShard(shard: number): Promise<Incarnation> {
    for (;;) {
      if (this.#closed) throw disposedError();
      const current = this.#shards[shard]!;
      if (current.state === "stuck") throw stuckError(shard);
      if (current.state === "stopping" || current.state === "closed") {
        await current.replaced;
        continue;
      }
      await current.ready;
      if (this.#shards[shard] === current && current.state === "ready") return current;
    }
  }

  /** A shard calls an object of another shard (or its own, after a restart raced the call). */
  #relay(from: Incarnation, call: WireCall): void {
    const answer = (result: WireResult) => {
      if (from.state !== "ready") return;
      const back = { ...result, call: call.call };
      from.worker.postMessage(back, transferablesOf(back, call.event.kind));
    };
    const to = call.handle?.thread ?? shardOf(call.id, this.#options.shards);
    this.#readyShard(to).then(
      (target) => target.calls.relay(target.worker, call, answer),
      (error: unknown) =>
        answer({
          t: "result",
          call: call.call,
          ok: false,
          error: toWireError(error),
        }),
    );
  }

  /** Stops every shard whose event loop has not turned for longer than the CPU limit. */
  #watch(): void {
    const now = nowUs();
    const limitUs = BigInt(this.#options.cpuLimitMs * 1000);
    for (let shard = 0; shard < this.#shards.length; shard++) {
      const current = this.#shards[shard]!;
      // Loading the app may take long on a busy machine; the limit applies to events.
      if (current.state !== "ready") continue;
      if (now - Atomics.load(current.heartbeat, 0) > limitUs) {
        this.#stop(shard, current, cpuLimitError(this.#options.cpuLimitMs));
      }
    }
  }

  /** Stops a runaway shard: its calls fail with `error`, and it starts again once stopped. */
  #stop(shard: number, current: Incarnation, error: SteadError): void {
    current.state = "stopping";
    current.calls.failAll(error);
    leaveOutMetrics(current);
    this.#options.onError(error, `object thread ${shard}`);
    let ended = false;
    current.worker.terminate().then(() => {
      ended = true;
      if (current.state !== "stopping") return;
      if (this.#closed) current.replace();
      else this.#replace(shard, current);
    });
    const grace = setTimeout(() => {
      if (ended) return;
      current.state = "stuck";
      current.replace();
      // Nothing will ever end it: don't let it hold the process open on its own.
      current.worker.unref();
      this.#options.onStuck(stuckError(shard));
    }, this.#options.stopGraceMs ?? 2_000);
    grace.unref();
  }
}

/** Answers the thread's pending metrics requests without it: it is stopping or gone. */
function leaveOutMetrics(incarnation: Incarnation): void {
  for (const answer of incarnation.metrics.values()) answer(undefined);
  incarnation.metrics.clear();
}

/** Cloudflare's words for an object reset by its CPU limit. */
function cpuLimitError(limitMs: number): SteadError {
  return new SteadError(
    "CPU_LIMIT_EXCEEDED",
    `Durable Object exceeded its CPU time limit and was reset. An event ran for more than ${limitMs} ms without yielding; raise limits.cpu_ms in the wrangler config if that is expected, or split the work across events.`,
    { remote: true },
  );
}

function stuckError(shard: number): SteadError {
  return new SteadError(
    "OBJECT_THREAD_STUCK",
    `Object thread ${shard} is stuck in a call that cannot be interrupted (such as a SQL statement that never ends) and cannot be stopped; its objects are unavailable until the server restarts.`,
    { remote: true, retryable: true },
  );
}

function disposedError(): SteadError {
  return new SteadError("RUNTIME_DISPOSED", "The runtime was disposed; create a new one.");
}

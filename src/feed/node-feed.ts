import type { Clock } from "../core/clock.ts";
import type { ChangeFeed } from "../core/feed/change-feed.ts";
import { DurableObjectId } from "../core/ids/object-id.ts";
import type { ObjectRoute } from "../core/object/namespace.ts";
import type { NamespaceRecord } from "../core/storage/driver.ts";
import type { FeedOptions } from "./feed-options.ts";
import { FeedShipper } from "./feed-shipper.ts";
import type { FeedSink } from "./feed-sink.ts";
import type { FeedStatus } from "./feed-status.ts";
import { NatsSink } from "./nats-sink.ts";
import { PostgresSink } from "./postgres-sink.ts";

/** Objects read at once by the catch-up at start. */
const CATCH_UP_PARALLEL = 8;

/** What a node's feed reaches of its runtime. */
export interface FeedRuntime {
  /** How events reach the objects of a namespace (this thread's, or through the threads). */
  route(storageName: string): ObjectRoute | undefined;
  /** The ids of the objects a namespace has in storage. */
  listObjects(storageName: string): Promise<string[]>;
}

/**
 * The change feed of one process or object thread: the shipper for the objects it hosts, and
 * the catch-up that, at start, asks every object of the feed's classes to hand over the changes
 * its `_cf_changes` still holds (commits made before a crash or restart and not yet shipped).
 */
export class NodeFeed {
  readonly shipper: FeedShipper;
  readonly #classes: Map<string, string>;
  readonly #onError: (error: unknown, context: string) => void;
  #runtime: FeedRuntime | undefined;
  #caughtUp: Promise<void> = Promise.resolve();

  constructor(
    options: FeedOptions,
    records: readonly NamespaceRecord[],
    clock: Clock,
    onError: (error: unknown, context: string) => void,
    sinks: readonly FeedSink[] = openSinks(options.sinks),
  ) {
    const selected = new Set(options.classes);
    this.#classes = new Map(
      records
        .filter((record) => selected.has(record.className))
        .map((record) => [record.storageName, record.className]),
    );
    this.#onError = onError;
    this.shipper = new FeedShipper(sinks, {
      className: (namespace) => this.#classes.get(namespace),
      replay: (namespace, id, name) => this.#replay(namespace, id, name),
      onError: (error, context) => onError(error, context),
      now: () => clock.now(),
    });
  }

  /** The feed a namespace's objects capture into, or undefined when its class is not selected. */
  feedFor(storageName: string): ChangeFeed | undefined {
    return this.#classes.has(storageName) ? this.shipper : undefined;
  }

  /** Where replays go: set once the runtime's objects are reachable. */
  attach(runtime: FeedRuntime): void {
    this.#runtime = runtime;
  }

  /**
   * Asks every object of the feed's classes for the changes it recorded and has not yet shed
   * (`_cf_changes`); sinks skip what their cursors show applied. Objects not in memory are read
   * without running app code. Resolves when every object answered; failures are reported.
   */
  catchUp(): Promise<void> {
    this.#caughtUp = this.#catchUp();
    return this.#caughtUp;
  }

  /** Resolves once the catch-up at start is done and nothing waits to be shipped. */
  async drained(): Promise<void> {
    await this.#caughtUp;
    await this.shipper.drained();
  }

  async #catchUp(): Promise<void> {
    const runtime = this.#runtime;
    if (runtime === undefined) return;
    for (const storageName of this.#classes.keys()) {
      let ids: string[];
      try {
        ids = await runtime.listObjects(storageName);
      } catch (error) {
        this.#onError(error, `change feed: listing ${this.#classes.get(storageName)}'s objects`);
        continue;
      }
      let next = 0;
      const worker = async () => {
        while (next < ids.length) {
          const id = ids[next++]!;
          await this.#replay(storageName, id, undefined).catch((error: unknown) =>
            this.#onError(
              error,
              `change feed: catching up ${this.#classes.get(storageName)} ${id}`,
            ),
          );
        }
      };
      await Promise.all(Array.from({ length: CATCH_UP_PARALLEL }, worker));
    }
  }

  status(): FeedStatus {
    return this.shipper.status();
  }

  /**
   * Ships what waits for up to `graceMs`, then closes the sinks; what was not shipped stays in
   * the objects' `_cf_changes` for the next start's catch-up.
   */
  async close(graceMs = 5_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.shipper.drained(),
      new Promise((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
    await this.shipper.close();
  }

  async #replay(storageName: string, id: string, name: string | undefined): Promise<void> {
    const route = this.#runtime?.route(storageName);
    if (route === undefined) throw new Error(`No route to class storage "${storageName}".`);
    await route.send(new DurableObjectId(id, name), { kind: "admin", request: { op: "feed" } });
  }
}

/** Opens the sinks the URLs name (connections are made on first use). */
export function openSinks(urls: readonly string[]): FeedSink[] {
  return urls.map((url) => (url.startsWith("nats://") ? new NatsSink(url) : new PostgresSink(url)));
}

import { type JetStreamClient, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { connect, type NatsConnection, nanos } from "@nats-io/transport-node";
import { toJson } from "./feed-changes.ts";
import {
  type BatchOutcome,
  commitsToApply,
  type FeedSink,
  type ObjectBatch,
  redactUrl,
} from "./feed-sink.ts";

/** The cursors' key-value bucket (one key per object: its last published commit). */
const CURSOR_BUCKET = "stead_feed_cursors";
/** The stream's deduplication window: a message id seen within it is not stored again. */
const DUPLICATE_WINDOW_MS = 10 * 60_000;

/**
 * The feed into NATS JetStream: one message per commit, on subject `<prefix>.<Class>`, with
 * message id (`Nats-Msg-Id`) `<Class>/<object id>/<seq>` so the stream drops one published
 * again within its duplicate window, and each object's cursor (its last published commit) in
 * the key-value bucket `stead_feed_cursors`, so a commit published before a restart is not
 * published again after it. The body is JSON: `{ class, id, name, seq, at, changes }`.
 */
export class NatsSink implements FeedSink {
  readonly name: string;
  readonly #servers: string;
  readonly #prefix: string;
  readonly #stream: string;
  #connecting: Promise<{ nc: NatsConnection; js: JetStreamClient; kv: KV }> | undefined;
  readonly #cursors = new Map<string, number>();

  /** `url`: `nats://host:port`, with `?prefix=` (default `stead.feed`) and `?stream=` (`STEAD_FEED`). */
  constructor(url: string) {
    const parsed = new URL(url);
    this.#prefix = parsed.searchParams.get("prefix") ?? "stead.feed";
    this.#stream = parsed.searchParams.get("stream") ?? "STEAD_FEED";
    this.#servers = `${parsed.hostname}:${parsed.port || "4222"}`;
    this.name = redactUrl(url);
  }

  /** The subject of a class's messages. */
  subject(className: string): string {
    return `${this.#prefix}.${className}`;
  }

  async apply(batches: readonly ObjectBatch[]): Promise<BatchOutcome[]> {
    const { js, kv } = await this.#connect();
    return Promise.all(batches.map((batch) => this.#applyOne(js, kv, batch)));
  }

  async close(): Promise<void> {
    const connecting = this.#connecting;
    this.#connecting = undefined;
    if (connecting === undefined) return;
    const { nc } = await connecting.catch(() => ({ nc: undefined }));
    await nc?.drain().catch(() => nc.close());
  }

  async #applyOne(js: JetStreamClient, kv: KV, batch: ObjectBatch): Promise<BatchOutcome> {
    const key = cursorKey(batch.className, batch.id);
    let cursor = this.#cursors.get(key);
    try {
      if (cursor === undefined) {
        const entry = await kv.get(key);
        cursor = entry === null || entry.operation !== "PUT" ? 0 : Number(entry.string());
      }
      const start = cursor;
      const { commits, gap } = commitsToApply(batch, start);
      // Sent together on one connection, so they reach the stream in commit order.
      const acks = commits.map((commit) =>
        js.publish(
          this.subject(batch.className),
          JSON.stringify({
            class: batch.className,
            id: batch.id,
            name: batch.name ?? null,
            seq: commit.seq,
            at: commit.at,
            changes: toJson(commit.changes),
          }),
          { msgID: `${batch.className}/${batch.id}/${commit.seq}` },
        ),
      );
      const results = await Promise.allSettled(acks);
      let failed: { seq: number; message: string } | undefined;
      for (const [i, result] of results.entries()) {
        if (result.status === "rejected") {
          failed = { seq: commits[i]!.seq, message: errorText(result.reason) };
          break;
        }
        cursor = commits[i]!.seq;
      }
      if (cursor !== start) {
        await kv.put(key, String(cursor));
        this.#cursors.set(key, cursor);
      }
      if (failed !== undefined) {
        return { failed: { ...failed, table: undefined, applied: cursor } };
      }
      return { applied: cursor, gap };
    } catch (error) {
      return { failed: { message: errorText(error), seq: undefined, table: undefined } };
    }
  }

  #connect(): Promise<{ nc: NatsConnection; js: JetStreamClient; kv: KV }> {
    this.#connecting ??= (async () => {
      const nc = await connect({
        servers: this.#servers,
        name: "stead-feed",
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
      });
      try {
        const jsm = await jetstreamManager(nc);
        const config = {
          name: this.#stream,
          subjects: [`${this.#prefix}.>`],
          duplicate_window: nanos(DUPLICATE_WINDOW_MS),
        };
        try {
          await jsm.streams.info(this.#stream);
        } catch {
          await jsm.streams.add(config);
        }
        const js = jetstream(nc);
        const kv = await new Kvm(js).create(CURSOR_BUCKET);
        return { nc, js, kv };
      } catch (error) {
        await nc.close();
        throw error;
      }
    })();
    const connecting = this.#connecting;
    connecting.catch(() => {
      if (this.#connecting === connecting) this.#connecting = undefined;
    });
    return connecting;
  }
}

/** A key-value key for an object's cursor (keys allow letters, digits, `-/_=.`). */
function cursorKey(className: string, id: string): string {
  return `${className.replace(/[^-/_=.a-zA-Z0-9]/g, "_")}.${id}`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

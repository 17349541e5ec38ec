import { HistogramCounts, LATENCY_BUCKETS } from "./histogram-counts.ts";

/**
 * What the objects of one namespace did since the runtime started, counted as it happens (each a
 * field increment). What they are doing now (objects in memory, queues, sockets) is read when
 * asked instead: `NamespaceController.gauges()`.
 */
export class ObjectCounters {
  /** Instances constructed: an object came into memory (first event, or after eviction or hibernation). */
  activations = 0;
  /** Objects that left memory idle without WebSockets to keep (or were shed over `maxActive`). */
  evictions = 0;
  /** Objects that left memory idle while their hibernatable WebSockets stayed open. */
  hibernations = 0;
  /** Events refused as overloaded: the queue was full, or an event waited in it too long. */
  overloaded = 0;
  /** Seconds from COMMIT to durable (the driver's `flush`), per committed transaction. */
  readonly commitSeconds = new HistogramCounts(LATENCY_BUCKETS);
}

/** What the objects of one namespace hold now, read by walking its live objects. */
export interface ObjectGauges {
  /** Objects with an instance in memory. */
  active: number;
  /** Objects whose instance left memory while hibernatable WebSockets stay open. */
  hibernated: number;
  /** Events waiting in objects' queues (not yet started). */
  queued: number;
  /** The longest queue of one object. */
  longestQueue: number;
  /** Hibernatable WebSockets accepted by objects (`ctx.acceptWebSocket`), open. */
  hibernatableWebSockets: number;
  /** Standard-API WebSockets accepted by objects (`ws.accept()`), open. */
  standardWebSockets: number;
}

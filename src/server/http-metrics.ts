import { HistogramCounts, LATENCY_BUCKETS } from "../core/metrics/histogram-counts.ts";
import type { RequestLogRecord, RequestLogSink } from "./request-log.ts";

/** Status codes counted one by one; anything else (none should occur) counts as 0. */
const STATUS_SLOTS = 600;

/**
 * What the HTTP front served, counted as it happens: each request is an array increment and a
 * histogram observation, with nothing allocated. Read by whoever shows metrics (`stead start
 * --admin-port`'s `/metrics`).
 */
export class HttpMetrics {
  /** Requests answered, by status code (499: the client left before a status was sent). */
  readonly byStatus = new Float64Array(STATUS_SLOTS);
  /** Seconds from a request's arrival to the end of its response. */
  readonly seconds = new HistogramCounts(LATENCY_BUCKETS);
  /** Connections handed to the WebSocket upgrade hook since start. */
  webSocketUpgrades = 0;
  /** Upgraded connections (WebSockets) open now. */
  webSocketsOpen = 0;

  /** Counts one answered request. */
  observe(record: RequestLogRecord): void {
    const status = record.status;
    this.byStatus[status >= 100 && status < STATUS_SLOTS ? status : 0]!++;
    this.seconds.observe(record.durationMs / 1000);
  }

  /** `sink`, counting every request it receives first (records of server errors, status 0, are not requests). */
  counting(sink: RequestLogSink): RequestLogSink {
    return (record) => {
      if (record.status !== 0) this.observe(record);
      sink(record);
    };
  }
}

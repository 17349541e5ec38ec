import type { HistogramCounts } from "../core/metrics/histogram-counts.ts";

/** An object whose changes a sink did not take, as operators see it. */
export interface ObjectFeedError {
  /** The object's class. */
  class: string;
  id: string;
  name: string | undefined;
  /** The commit (the object's sequence number) that failed, when the sink could tell. */
  seq: number | undefined;
  /** The table of the failing change, when the sink could tell. */
  table: string | undefined;
  message: string;
  /** When this error was first seen, epoch ms. */
  since: number;
  /** Attempts so far (retried with backoff). */
  attempts: number;
}

/** One sink of the feed. */
export interface FeedSinkStatus {
  /** The sink's address, password removed. */
  sink: string;
  /** Objects with commits not yet applied to it. */
  pendingObjects: number;
  /** Commits held in memory for it. */
  pendingCommits: number;
  /** Age of the oldest commit not yet applied, ms (0: caught up). */
  lagMs: number;
  /** Commits applied since the process started. */
  appliedCommits: number;
  /** Objects whose last attempt failed. */
  failingObjects: number;
  /** The first of those objects' errors. */
  errors: ObjectFeedError[];
  /** The last error seen, even if since resolved. */
  lastError: ObjectFeedError | undefined;
  /** Seconds from commit to applied, per commit. */
  commitToApplied: HistogramCounts;
}

/** What `GET /feed` of the admin API answers (the histogram left out). */
export interface FeedStatus {
  sinks: FeedSinkStatus[];
}

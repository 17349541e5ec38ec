import type { RecordedChanges } from "../core/feed/change-feed.ts";
import type { HistogramCounts } from "../core/metrics/histogram-counts.ts";
import type { FeedSink } from "./feed-sink.ts";
import type { FeedSinkStatus, ObjectFeedError } from "./feed-status.ts";

/** Object errors listed in the status. */
const STATUS_ERRORS = 20;

/** One object as one sink sees it. */
export interface ObjectQueue {
  readonly key: string;
  readonly namespace: string;
  readonly className: string;
  readonly id: string;
  name: string | undefined;
  /** Commits not yet applied, by seq, none at or below `applied`. */
  pending: RecordedChanges[];
  /** The sink's cursor for the object as last learned (0: unknown). */
  applied: number;
  /** Commits newer than `pending` were left out (MAX_QUEUED_PER_OBJECT): replay once drained. */
  gap: boolean;
  /**
   * The sink found a hole before `pending` (older commits not delivered yet: a live commit came
   * before the catch-up's) and the recorded changes were read again; a hole left after that is
   * changes trimmed before this sink had them, and is skipped.
   */
  holeReplayed: boolean;
  inFlight: boolean;
  attempts: number;
  retryTimer: NodeJS.Timeout | undefined;
  error: ObjectFeedError | undefined;
}

export interface SinkState {
  readonly sink: FeedSink;
  readonly objects: Map<string, ObjectQueue>;
  /** Objects with pending commits, not in flight, not waiting to retry; in arrival order. */
  readonly ready: Set<ObjectQueue>;
  applies: number;
  /** Armed while the next apply waits for more objects (`LINGER_MS`). */
  linger: NodeJS.Timeout | undefined;
  /** When the last apply call started (`performance.now()`). */
  lastStart: number;
  appliedCommits: number;
  /** Seconds from commit to applied in the sink, per commit. */
  readonly lag: HistogramCounts;
  lastError: ObjectFeedError | undefined;
}

/** A sink's status as `GET /feed` shows it: what waits, its lag, its failing objects. */
export function sinkStatus(state: SinkState, now: number): FeedSinkStatus {
  let pendingCommits = 0;
  let pendingObjects = 0;
  let oldest = Number.POSITIVE_INFINITY;
  const errors: ObjectFeedError[] = [];
  let failingObjects = 0;
  for (const object of state.objects.values()) {
    if (object.pending.length > 0 || object.gap) pendingObjects++;
    pendingCommits += object.pending.length;
    const first = object.pending[0];
    if (first !== undefined) oldest = Math.min(oldest, first.at);
    if (object.error !== undefined) {
      failingObjects++;
      if (errors.length < STATUS_ERRORS) errors.push(object.error);
    }
  }
  return {
    sink: state.sink.name,
    pendingObjects,
    pendingCommits,
    lagMs: Number.isFinite(oldest) ? Math.max(0, now - oldest) : 0,
    appliedCommits: state.appliedCommits,
    failingObjects,
    errors,
    lastError: state.lastError,
    commitToApplied: state.lag,
  };
}

import type { FeedStatus } from "../../feed/feed-status.ts";
import { counter, gauge, histogram, type MetricFamily } from "./metric-family.ts";

/** The change feed's metrics, one series per sink (docs/change-feed.md). */
export function feedFamilies(status: FeedStatus): MetricFamily[] {
  const by = (pick: (sink: FeedStatus["sinks"][number]) => number) =>
    status.sinks.map((sink) => ({ labels: { sink: sink.sink }, value: pick(sink) }));
  return [
    gauge(
      "stead_feed_lag_seconds",
      "Age of the oldest commit not yet applied to the sink (0: caught up).",
      by((sink) => sink.lagMs / 1000),
      "max",
    ),
    gauge(
      "stead_feed_pending_commits",
      "Commits waiting to be applied to the sink.",
      by((sink) => sink.pendingCommits),
    ),
    gauge(
      "stead_feed_failing_objects",
      "Objects whose last apply to the sink failed (retried with backoff).",
      by((sink) => sink.failingObjects),
    ),
    counter(
      "stead_feed_applied_commits_total",
      "Commits applied to the sink.",
      by((sink) => sink.appliedCommits),
    ),
    histogram(
      "stead_feed_commit_to_applied_seconds",
      "Seconds from an object's commit to its changes applied in the sink.",
      status.sinks.map((sink) => ({ labels: { sink: sink.sink }, counts: sink.commitToApplied })),
    ),
  ];
}

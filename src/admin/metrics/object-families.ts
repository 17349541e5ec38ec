import type { ObjectCounters, ObjectGauges } from "../../core/metrics/object-counters.ts";
import { counter, gauge, histogram, type MetricFamily } from "./metric-family.ts";

/** One namespace of a thread, as its metrics are read: its class, what it counted, what it holds. */
export interface NamespaceMetricsSource {
  className: string;
  counters: ObjectCounters;
  gauges(): ObjectGauges;
}

/**
 * The metrics of the objects one thread hosts, labelled by class. Each object thread answers
 * with these; the main thread sums them with its own.
 */
export function objectFamilies(namespaces: Iterable<NamespaceMetricsSource>): MetricFamily[] {
  const rows = [...namespaces].map((namespace) => ({
    labels: { class: namespace.className },
    counters: namespace.counters,
    gauges: namespace.gauges(),
  }));
  const each = (value: (row: (typeof rows)[number]) => number) =>
    rows.map((row) => ({ labels: row.labels, value: value(row) }));
  return [
    gauge(
      "stead_objects_active",
      "Objects with an instance in memory.",
      each((row) => row.gauges.active),
    ),
    gauge(
      "stead_objects_hibernated",
      "Objects out of memory whose hibernatable WebSockets stay open.",
      each((row) => row.gauges.hibernated),
    ),
    counter(
      "stead_object_activations_total",
      "Object instances constructed (an object came into memory).",
      each((row) => row.counters.activations),
    ),
    counter(
      "stead_object_evictions_total",
      "Objects that left memory idle (or over the limit of objects in memory).",
      each((row) => row.counters.evictions),
    ),
    counter(
      "stead_object_hibernations_total",
      "Objects that left memory idle while their hibernatable WebSockets stayed open.",
      each((row) => row.counters.hibernations),
    ),
    gauge(
      "stead_object_events_queued",
      "Events waiting in objects' queues.",
      each((row) => row.gauges.queued),
    ),
    gauge(
      "stead_object_queue_longest",
      "The longest queue of one object.",
      each((row) => row.gauges.longestQueue),
      "max",
    ),
    counter(
      "stead_object_overloaded_total",
      "Events refused as overloaded: an object's queue was full, or an event waited too long.",
      each((row) => row.counters.overloaded),
    ),
    gauge(
      "stead_object_websockets_open",
      "WebSockets accepted by objects and open, by API (hibernatable or standard).",
      rows.flatMap((row) => [
        {
          labels: { ...row.labels, api: "hibernatable" },
          value: row.gauges.hibernatableWebSockets,
        },
        { labels: { ...row.labels, api: "standard" }, value: row.gauges.standardWebSockets },
      ]),
    ),
    histogram(
      "stead_storage_commit_duration_seconds",
      "Seconds from an object's COMMIT to its transaction being durable.",
      rows.map((row) => ({ labels: row.labels, counts: row.counters.commitSeconds })),
    ),
  ];
}

import type { JournalStats } from "../../core/storage/driver.ts";
import { counter, gauge, type MetricFamily } from "./metric-family.ts";

/**
 * The local driver's node journal (docs/durability.md), one series per thread summed: how many
 * syncs acknowledged how many commits, and how much a replay after a crash now would read.
 */
export function journalFamilies(stats: JournalStats | undefined): MetricFamily[] {
  if (stats === undefined) return [];
  const one = (value: number) => [{ labels: {}, value }];
  return [
    counter(
      "stead_journal_syncs_total",
      "fdatasyncs of the node journal; each acknowledges every commit appended before it.",
      one(stats.syncs),
    ),
    counter(
      "stead_journal_records_total",
      "Records appended to the node journal (an object's commits since its last record).",
      one(stats.records),
    ),
    counter("stead_journal_written_bytes_total", "Bytes of records written.", one(stats.bytes)),
    gauge(
      "stead_journal_size_bytes",
      "Bytes the node journal holds now: what a replay after a crash would read at most.",
      one(stats.size),
    ),
    counter(
      "stead_journal_retired_segments_total",
      "Journal segments retired once their objects' own files were synced.",
      one(stats.retiredSegments),
    ),
    gauge(
      "stead_journal_replay_seconds",
      "How long replaying the journal a crash left took at this start (0: none was left).",
      one((stats.replayMs ?? 0) / 1000),
      "max",
    ),
  ];
}

import type { HistogramCounts } from "../../core/metrics/histogram-counts.ts";

/** How the families of several threads combine into one: summed, or the largest value kept. */
export type Aggregator = "sum" | "max";

/** One sample of a family: its labels, its value, and its own name for a histogram's series. */
export interface MetricSample {
  labels: Record<string, string | number>;
  value: number;
  /** `<name>_bucket`, `<name>_sum` or `<name>_count` (histograms). */
  metricName?: string;
}

/**
 * A metric and its samples as plain data (prom-client's `getMetricsAsJSON()` shape), so an
 * object thread can post its families to the main thread, which sums them (`prometheus-text.ts`).
 */
export interface MetricFamily {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  aggregator: Aggregator;
  values: MetricSample[];
}

export function counter(name: string, help: string, values: MetricSample[]): MetricFamily {
  return { name, help, type: "counter", aggregator: "sum", values };
}

export function gauge(
  name: string,
  help: string,
  values: MetricSample[],
  aggregator: Aggregator = "sum",
): MetricFamily {
  return { name, help, type: "gauge", aggregator, values };
}

/** A histogram family with one series per entry of `series` (its labels and its counts). */
export function histogram(
  name: string,
  help: string,
  series: Array<{ labels: Record<string, string>; counts: HistogramCounts }>,
): MetricFamily {
  const values: MetricSample[] = [];
  for (const { labels, counts } of series) {
    let cumulative = 0;
    for (let bucket = 0; bucket < counts.bounds.length; bucket++) {
      cumulative += counts.counts[bucket]!;
      values.push({
        labels: { ...labels, le: counts.bounds[bucket]! },
        value: cumulative,
        metricName: `${name}_bucket`,
      });
    }
    values.push(
      { labels: { ...labels, le: "+Inf" }, value: counts.count, metricName: `${name}_bucket` },
      { labels, value: counts.sum, metricName: `${name}_sum` },
      { labels, value: counts.count, metricName: `${name}_count` },
    );
  }
  return { name, help, type: "histogram", aggregator: "sum", values };
}

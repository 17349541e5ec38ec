import {
  AggregatorRegistry,
  collectDefaultMetrics,
  type PrometheusContentType,
  Registry,
} from "prom-client";
import type { MetricFamily } from "./metric-family.ts";

let processRegistry: Registry | undefined;

/**
 * The process's own metrics (CPU, memory, event loop lag, GC: prom-client's defaults), started
 * on first use: the event loop monitor runs from then on.
 */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * Prometheus text for `/metrics`: each list of families is one thread's (or one part's, such as
 * the HTTP front's); families of the same name are combined by their aggregator (counters and
 * histograms summed), then the process's own metrics follow. `labels` go on every sample (the
 * cluster node).
 */
export async function prometheusText(
  parts: MetricFamily[][],
  labels: Record<string, string> = {},
): Promise<string> {
  const summed = AggregatorRegistry.aggregate<PrometheusContentType>(parts);
  const all = Registry.merge([summed, processMetrics()]);
  all.setDefaultLabels(labels);
  return all.metrics();
}

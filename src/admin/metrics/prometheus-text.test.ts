import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HistogramCounts } from "../../core/metrics/histogram-counts.ts";
import { counter, gauge, histogram } from "./metric-family.ts";
import { prometheusText } from "./prometheus-text.ts";

/** One thread's families: a counter, a summed gauge, a max gauge and a histogram of `observed`. */
function thread(requests: number, queued: number, observed: number[]) {
  const seconds = new HistogramCounts([0.01, 0.1]);
  for (const value of observed) seconds.observe(value);
  return [
    counter("t_requests_total", "Requests.", [{ labels: { class: "A" }, value: requests }]),
    gauge("t_queued", "Queued.", [{ labels: { class: "A" }, value: queued }]),
    gauge("t_longest", "Longest.", [{ labels: { class: "A" }, value: queued }], "max"),
    histogram("t_seconds", "Seconds.", [{ labels: { class: "A" }, counts: seconds }]),
  ];
}

function lines(text: string): string[] {
  return text.split("\n").filter((line) => line.startsWith("t_"));
}

describe("prometheusText", () => {
  it("sums counters, gauges and histograms of every thread by labels, keeps the largest of a max gauge, and labels every sample", async () => {
    const text = await prometheusText([thread(3, 2, [0.005, 0.05]), thread(4, 5, [0.5])], {
      node: "n1",
    });
    assert.deepEqual(lines(text), [
      't_requests_total{class="A",node="n1"} 7',
      't_queued{class="A",node="n1"} 7',
      't_longest{class="A",node="n1"} 5',
      't_seconds_bucket{class="A",le="0.01",node="n1"} 1',
      't_seconds_bucket{class="A",le="0.1",node="n1"} 2',
      't_seconds_bucket{class="A",le="+Inf",node="n1"} 3',
      't_seconds_sum{class="A",node="n1"} 0.555',
      't_seconds_count{class="A",node="n1"} 3',
    ]);
    assert.match(text, /^# TYPE t_seconds histogram$/m);
    assert.match(text, /^process_resident_memory_bytes\{node="n1"\} \d+$/m);
  });
});

// The console's Prometheus text parser, run in Node (the module touches no browser API until
// its panel is drawn).
import assert from "node:assert/strict";
import { describe, it } from "node:test";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
const { parseMetrics, totalOf } = (await import(new URL("./metrics.js", import.meta.url).href)) as {
  parseMetrics(text: string): Sample[];
  totalOf(spec: { names: RegExp[] }, samples: Sample[]): number | undefined;
};

describe("the console's metrics parser", () => {
  it("reads samples, labels with escapes, special values and timestamps", () => {
    const samples = parseMetrics(
      [
        "# HELP stead_http_requests_total Requests.",
        "# TYPE stead_http_requests_total counter",
        'stead_http_requests_total{status="200",path="/a \\"b\\" {c}, d\\\\e\\nf"} 12 1700000000000',
        "stead_objects_active 3",
        'stead_commit_duration_seconds_bucket{le="+Inf"} +Inf',
        "stead_odd NaN",
        "",
        "   ",
        "not a sample line {",
        'stead_bad{status="200} 1',
        "stead_no_value",
      ].join("\n"),
    );
    assert.deepEqual(
      samples.map(({ name, labels }) => ({ name, labels })),
      [
        {
          name: "stead_http_requests_total",
          labels: { status: "200", path: '/a "b" {c}, d\\e\nf' },
        },
        { name: "stead_objects_active", labels: {} },
        { name: "stead_commit_duration_seconds_bucket", labels: { le: "+Inf" } },
        { name: "stead_odd", labels: {} },
      ],
    );
    assert.deepEqual(
      samples.map(({ value }) => value),
      [12, 3, Number.POSITIVE_INFINITY, Number.NaN],
    );
  });

  it("totals the first metric present among a chart's names, over every series", () => {
    const samples = parseMetrics(
      [
        'x_requests_total{status="200"} 5',
        'stead_http_requests_total{status="200"} 40',
        'stead_http_requests_total{status="500"} 2',
      ].join("\n"),
    );
    assert.equal(
      totalOf({ names: [/^stead_http_requests_total$/, /requests_total$/] }, samples),
      42,
    );
    assert.equal(totalOf({ names: [/^missing$/, /^x_requests_total$/] }, samples), 5);
    assert.equal(totalOf({ names: [/^missing$/] }, samples), undefined);
  });
});

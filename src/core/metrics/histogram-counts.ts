/**
 * A histogram kept as plain numbers, cheap enough for the hot path: `observe` is a few
 * comparisons and additions, with nothing allocated. Whoever shows metrics (the admin listener's
 * `/metrics`) reads `counts`, `sum` and `count` when asked, on whatever thread it runs.
 */
export class HistogramCounts {
  /** Upper bounds of the buckets, ascending; a last, unbounded bucket (+Inf) follows them. */
  readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative): `counts[i]` for `bounds[i]`, the last for +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let bucket = 0;
    while (bucket < bounds.length && value > bounds[bucket]!) bucket++;
    this.counts[bucket]!++;
    this.sum += value;
    this.count++;
  }
}

/** Buckets for latencies in seconds, from 0.5 ms to 10 s. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

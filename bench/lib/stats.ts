/** Collects latency samples (ms) and answers exact percentiles. */
export class Latencies {
  #values = new Float64Array(1 << 16);
  #count = 0;

  get count(): number {
    return this.#count;
  }

  add(ms: number): void {
    if (this.#count === this.#values.length) {
      const bigger = new Float64Array(this.#values.length * 2);
      bigger.set(this.#values);
      this.#values = bigger;
    }
    this.#values[this.#count++] = ms;
  }

  /** Percentiles by the nearest-rank method; undefined when there are no samples. */
  percentiles(...ps: number[]): Array<number | undefined> {
    if (this.#count === 0) return ps.map(() => undefined);
    const sorted = this.#values.slice(0, this.#count).sort();
    return ps.map(
      (p) => sorted[Math.min(this.#count - 1, Math.max(0, Math.ceil((p / 100) * this.#count) - 1))],
    );
  }
}

// `--scrape-metrics`: what a Prometheus server does to Stead, during the measured window. Runs in
// the harness process (CPU 1), so the server pays only for answering.

/** What the scrapes of one window saw. */
export interface ScrapeStats {
  scrapes: number;
  failed: number;
  /** The slowest answer, ms. */
  maxMs: number;
  /** The size of the last answer, bytes. */
  bytes: number;
  /** Why the last failed scrape failed. */
  lastError?: string;
}

/** Scrapes `adminUrl/metrics` at once and then every `everyMs`, until `stop`. */
export function scrapeEvery(
  adminUrl: string,
  token: string,
  everyMs: number,
): { stop(): Promise<ScrapeStats> } {
  const stats: ScrapeStats = { scrapes: 0, failed: 0, maxMs: 0, bytes: 0 };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  const started = performance.now();
  const scrape = async () => {
    const began = performance.now();
    try {
      const response = await fetch(`${adminUrl}/metrics`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const body = await response.text();
      if (!response.ok) throw new Error(`status ${response.status}`);
      stats.scrapes++;
      stats.bytes = body.length;
    } catch (error) {
      stats.failed++;
      const cause = (error as Error).cause as Error | undefined;
      stats.lastError = `${(error as Error).message}${cause === undefined ? "" : ` (${cause.message})`}`;
    }
    stats.maxMs = Math.max(stats.maxMs, performance.now() - began);
  };
  const next = (n: number) => {
    if (stopped) return;
    inFlight = scrape();
    // On a fixed schedule (not one second after each answer), as Prometheus scrapes.
    timer = setTimeout(
      () => next(n + 1),
      Math.max(0, started + (n + 1) * everyMs - performance.now()),
    );
  };
  next(0);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
      return stats;
    },
  };
}

/** Receives a warning for the operator: what limit was hit, and what to change. */
export type WarningSink = (message: string) => void;

/** How often one kind of warning may be logged. */
const DEFAULT_WINDOW_MS = 60_000;

/**
 * Warnings logged at most once per window for each kind, so a flood of refused connections or
 * failed descriptor opens costs one line a minute, not one per event. The next line of a kind says
 * how many were left out since the last.
 */
export class RateLimitedWarnings {
  readonly #sink: WarningSink;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #kinds = new Map<string, { loggedAt: number; skipped: number }>();

  constructor(sink: WarningSink, windowMs = DEFAULT_WINDOW_MS, now = () => performance.now()) {
    this.#sink = sink;
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /** Logs `message` unless a warning of `kind` was logged less than a window ago. */
  warn(kind: string, message: () => string): void {
    const now = this.#now();
    const last = this.#kinds.get(kind);
    if (last !== undefined && now - last.loggedAt < this.#windowMs) {
      last.skipped++;
      return;
    }
    const skipped = last?.skipped ?? 0;
    this.#kinds.set(kind, { loggedAt: now, skipped: 0 });
    const more = skipped === 0 ? "" : ` (${skipped} more since the last such line)`;
    try {
      this.#sink(`${message()}${more}`);
    } catch {
      // A failing log sink must not take the server down.
    }
  }
}

import type { ProgressSink } from "../admin/progress-sink.ts";

/** Where a progress bar draws: stderr, or a test's stand-in. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

/** Redraws at most this often, ms. */
const REDRAW_MS = 100;

/**
 * A progress bar with rate and ETA for long operations, on one line of a terminal:
 *
 *     Backing up [##########--------------]  41% 4,100/10,000 objects  2,310/s  ETA 0:03
 *
 * Drawn only when the stream is a terminal (so logs and pipes get no control characters) and
 * the operation lasts over a quarter of a second; `done` clears it and returns the summary line
 * the command prints either way.
 */
export class ProgressBar implements ProgressSink {
  readonly #label: string;
  readonly #stream: ProgressStream;
  readonly #now: () => number;
  readonly #startedAt: number;
  #total: number | undefined;
  #count = 0;
  #bytes = 0;
  #drawnAt = 0;
  #drawn = false;

  constructor(
    label: string,
    stream: ProgressStream = process.stderr,
    now = () => performance.now(),
  ) {
    this.#label = label;
    this.#stream = stream;
    this.#now = now;
    this.#startedAt = now();
  }

  start(total: number | undefined): void {
    this.#total = total;
  }

  advance(bytes: number): void {
    this.#count++;
    this.#bytes += bytes;
    if (this.#stream.isTTY !== true) return;
    const now = this.#now();
    if (now - this.#startedAt < 250 || now - this.#drawnAt < REDRAW_MS) return;
    this.#drawnAt = now;
    this.#drawn = true;
    this.#stream.write(`\r${this.line(now)}\x1b[K`);
  }

  /** Objects done so far, and their bytes. */
  get count(): number {
    return this.#count;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Seconds since the bar was made. */
  get seconds(): number {
    return (this.#now() - this.#startedAt) / 1000;
  }

  /** The bar as drawn at `now`. */
  line(now = this.#now()): string {
    const seconds = Math.max((now - this.#startedAt) / 1000, 1e-3);
    const rate = this.#count / seconds;
    const total = this.#total;
    const counted =
      total === undefined ? `${count(this.#count)}` : `${count(this.#count)}/${count(total)}`;
    let bar = "";
    let eta = "";
    if (total !== undefined && total > 0) {
      const share = Math.min(this.#count / total, 1);
      const width = Math.max(10, Math.min(30, (this.#stream.columns ?? 80) - 70));
      const filled = Math.round(share * width);
      bar = ` [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(Math.floor(share * 100)).padStart(3)}%`;
      eta = rate > 0 ? `  ETA ${clock((total - this.#count) / rate)}` : "";
    }
    return `${this.#label}${bar} ${counted} objects  ${count(Math.round(rate))}/s${eta}`;
  }

  /** Clears the bar; returns "<count> objects (<size>) in <time>, <rate>/s". */
  done(): string {
    if (this.#drawn) this.#stream.write("\r\x1b[K");
    const seconds = this.seconds;
    const rate = seconds > 0 ? this.#count / seconds : 0;
    return `${count(this.#count)} object${this.#count === 1 ? "" : "s"} (${size(this.#bytes)}) in ${seconds.toFixed(1)} s, ${count(Math.round(rate))} objects/s`;
  }
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

/** Bytes for people: 1.2 MB. */
export function size(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

import type { RateLimitCounters } from "./rate-limit-counters.ts";
import type { RateLimitBindingOptions } from "./rate-limit-options.ts";

/** The argument of `limit()`: the key to count a call for (any string: a user id, an IP, a path). */
export interface RateLimitOptions {
  key: string;
}

/** What `limit()` resolves to: `success` is false once the key is past its limit. */
export interface RateLimitOutcome {
  success: boolean;
}

/** What a binding counts with: its thread's counters and the runtime's clock. */
export interface RateLimitSetup {
  readonly counters: RateLimitCounters;
  /** Milliseconds since the epoch (the runtime's `Clock`). */
  now(): number;
}

/**
 * A Rate Limiting binding (`env.MY_RATE_LIMITER`), as Cloudflare makes one from the wrangler
 * config's `ratelimits` key: each `limit({ key })` counts one call for `key`, and resolves
 * `{ success: false }` once the key has made `simple.limit` calls in the current window of
 * `simple.period` seconds.
 *
 * @example
 * const { success } = await env.MY_RATE_LIMITER.limit({ key: userId });
 * if (!success) return new Response("Too many requests", { status: 429 });
 */
export class RateLimit {
  readonly #options: RateLimitBindingOptions;
  readonly #setup: RateLimitSetup;

  /** Made by the runtime, one per `ratelimits` entry. */
  constructor(options: RateLimitBindingOptions, setup: RateLimitSetup) {
    this.#options = options;
    this.#setup = setup;
  }

  /** Counts one call for `options.key`; `success` says whether it is within the limit. */
  async limit(options: RateLimitOptions): Promise<RateLimitOutcome> {
    const key = keyOf(this.#options.name, options);
    const { namespace_id, simple } = this.#options;
    const success = this.#setup.counters.take(
      String(namespace_id),
      simple.period,
      key,
      simple.limit,
      this.#setup.now(),
    );
    return { success };
  }
}

function keyOf(binding: string, options: unknown): string {
  const call = `env.${binding}.limit()`;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `${call} takes an object with the key to count, like limit({ key: "user-42" }); got ${show(options)}.`,
    );
  }
  const { key } = options as { key?: unknown };
  if (typeof key !== "string") {
    throw new TypeError(
      `${call}: key must be a string, like limit({ key: "user-42" }); got ${key === undefined ? "no key" : show(key)}.`,
    );
  }
  return key;
}

function show(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `${typeof value} ${String(value)}`;
}

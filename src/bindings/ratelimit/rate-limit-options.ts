/** The periods Cloudflare allows a rate limit to count over, in seconds. */
export const RATE_LIMIT_PERIODS = [10, 60] as const;

/**
 * One Rate Limiting binding, as the wrangler config's `ratelimits` key lists it (and as
 * `createRuntime({ ratelimits })` takes it): `env[name].limit({ key })` allows `simple.limit`
 * calls per key in each window of `simple.period` seconds. Bindings with the same
 * `namespace_id` share their counters.
 *
 * @example
 * { name: "MY_RATE_LIMITER", namespace_id: "1001", simple: { limit: 100, period: 60 } }
 */
export interface RateLimitBindingOptions {
  /** The binding's name in `env`. */
  readonly name: string;
  /** An integer (as a string, as wrangler writes it) naming the counters this binding uses. */
  readonly namespace_id: string | number;
  readonly simple: {
    /** Calls allowed per key in one period: a positive whole number. */
    readonly limit: number;
    /** The window's length in seconds: 10 or 60. */
    readonly period: (typeof RATE_LIMIT_PERIODS)[number];
  };
}

export {
  RateLimit,
  type RateLimitOptions,
  type RateLimitOutcome,
  type RateLimitSetup,
} from "./rate-limit-binding.ts";
export { RateLimitCounters } from "./rate-limit-counters.ts";
export { RATE_LIMIT_PERIODS, type RateLimitBindingOptions } from "./rate-limit-options.ts";

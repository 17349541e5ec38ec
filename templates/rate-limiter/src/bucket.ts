// Token-bucket arithmetic, kept apart from the Durable Object so that time is a parameter: the
// object passes `Date.now()`, and nothing here reads a clock.

/** A key's bucket as stored between requests. A full bucket is not stored at all. */
export interface Bucket {
  /** Tokens in the bucket at `updatedAt`; fractional, because refill is continuous. */
  tokens: number;
  /** When `tokens` was counted, in milliseconds since the epoch. */
  updatedAt: number;
}

/** How every key is limited. */
export interface Limits {
  /** Tokens in a full bucket: the largest burst, and the requests allowed per period. */
  limit: number;
  /** Milliseconds an empty bucket takes to fill up again. */
  periodMs: number;
}

/** The answer to one check, as the RPC method returns it and the HTTP body shows it. */
export interface Decision {
  allowed: boolean;
  limit: number;
  /** Whole tokens left after this request. */
  remaining: number;
  /** Milliseconds until the bucket is full again (0: it is full). */
  resetMs: number;
  /** Milliseconds until a request of the same cost would be allowed (0 when it was allowed). */
  retryAfterMs: number;
}

/** The tokens in `bucket` at `now`: what it held plus what flowed in since, up to full. */
export function tokensAt(bucket: Bucket | undefined, limits: Limits, now: number): number {
  if (bucket === undefined) return limits.limit;
  // A clock that stepped backwards refills nothing (and drains nothing).
  const elapsed = Math.max(0, now - bucket.updatedAt);
  return Math.min(limits.limit, bucket.tokens + (elapsed * limits.limit) / limits.periodMs);
}

/**
 * Takes `cost` tokens at `now` if the bucket holds them. Returns the decision and the bucket to
 * store (unchanged when refused: refill keeps counting from its `updatedAt`).
 */
export function take(
  bucket: Bucket | undefined,
  limits: Limits,
  now: number,
  cost: number,
): { decision: Decision; bucket: Bucket | undefined } {
  const tokens = tokensAt(bucket, limits, now);
  if (tokens < cost) return { decision: decide(tokens, limits, cost, false), bucket };
  const left = tokens - cost;
  return { decision: decide(left, limits, cost, true), bucket: { tokens: left, updatedAt: now } };
}

/** What a request of `cost` would be told at `now`, taking nothing. */
export function peek(
  bucket: Bucket | undefined,
  limits: Limits,
  now: number,
  cost: number,
): Decision {
  const tokens = tokensAt(bucket, limits, now);
  return decide(tokens, limits, cost, tokens >= cost);
}

/** Milliseconds for `tokens` tokens to flow in. */
export function refillMs(tokens: number, limits: Limits): number {
  return Math.ceil((Math.max(0, tokens) * limits.periodMs) / limits.limit);
}

function decide(tokens: number, limits: Limits, cost: number, allowed: boolean): Decision {
  return {
    allowed,
    limit: limits.limit,
    remaining: Math.floor(tokens),
    resetMs: refillMs(limits.limit - tokens, limits),
    retryAfterMs: allowed ? 0 : refillMs(cost - tokens, limits),
  };
}
